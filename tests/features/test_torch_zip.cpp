// SPDX-License-Identifier: MIT
// The pytorch_model.bin reader (zip + safe unpickler) against pickles made
// to hurt it (issue 14): each is an error naming the file, never a crash, a
// hang or gigabytes of memory. The files are written here by Python's
// zipfile, as torch.save lays them out. Also fairseq checkpoints read with
// their own policy (issue 27).
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "acoustok/error.hpp"
#include "features/fairseq_checkpoint.hpp"
#include "features/torch_zip.hpp"
#include "test_util.hpp"

using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

namespace {

// Writes DIR/NAME.bin: a zip holding archive/data.pkl made by the Python
// expression `pickle_expr` (bytes), and returns its path.
std::string write_bin(const std::string& dir, const std::string& name, const std::string& pickle_expr) {
  const std::string path = dir + "/" + name + ".bin";
  const std::string script = dir + "/" + name + ".py";
  const std::string code =
      "import struct, zipfile\n"
      "def le4(i): return struct.pack('<I', i)\n"
      "data = " +
      pickle_expr +
      "\n"
      "with zipfile.ZipFile('" +
      path +
      "', 'w') as z:\n"
      "    z.writestr('archive/data.pkl', data)\n"
      "    z.writestr('archive/byteorder', 'little')\n";
  FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(code.c_str(), f);
  std::fclose(f);
  std::string out;
  EXPECT_EQ(run_command("/usr/bin/python3 " + script, &out), 0) << out;
  return path;
}

std::string error_of(const std::string& path) {
  try {
    acoustok::features::TorchZipWeights w(path);
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// A chain of lists 500 000 deep, each referenced only by its parent: every
// level appends a new list to the current one, then wraps the current one in
// a persistent id that BINPERSID consumes and the memo forgets it. Freeing
// such a chain recursively overflowed the stack (rc 139); now the objects live
// in an arena and the object budget ends the pickle first.
TEST(TorchZipHostile, ChainsOfListsDoNotOverflowTheStack) {
  const std::string dir = make_temp_dir("pkl-deep");
  const std::string path = write_bin(
      dir, "deep",
      "(lambda s: b'\\x80\\x02]q\\x00' + (b'(' + s(b'storage') + b'ctorch\\nFloatStorage\\n' + s(b'k') + "
      "b'h\\x00]q\\x00aK\\x00tQ') * 500000 + b'.')(lambda x: b'X' + le4(len(x)) + x)");
  const std::string e = error_of(path);
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("data.pkl"), std::string::npos) << e;
}

// A flood of APPENDs (quadratic before) and of NONE (2.4 GB from 8 MB before):
// bounded by the object budget.
TEST(TorchZipHostile, FloodsOfObjectsAreRefusedByTheObjectBudget) {
  const std::string dir = make_temp_dir("pkl-flood");
  for (const auto& [name, expr] :
       {std::pair<std::string, std::string>{"appends", "b'\\x80\\x02]' + b'Na' * 2000000 + b'.'"},
        {"nones", "b'\\x80\\x02' + b'N' * 8000000 + b'.'"},
        {"marks", "b'\\x80\\x02' + b'(' * 8000000 + b'.'"}}) {
    const std::string path = write_bin(dir, name, expr);
    const std::string e = error_of(path);
    EXPECT_NE(e.find(path), std::string::npos) << name << ": " << e;
    EXPECT_NE(e.find("more than 1048576 objects"), std::string::npos) << name << ": " << e;
  }
}

// Bytes flipped inside data.pkl (a key renamed) and a local header that names
// another entry than the central directory: Python's zipfile refuses both,
// and so do we.
TEST(TorchZipHostile, CorruptDataPklAndMismatchedLocalHeadersAreRefused) {
  const std::string dir = make_temp_dir("pkl-crc");
  const std::string good =
      write_bin(dir, "good", "__import__('pickle').dumps({'weight_name': 1}, protocol=2)");
  EXPECT_EQ(error_of(good), "");  // a plain dict without tensors loads
  std::string out;
  const std::string patch =
      "/usr/bin/python3 -c \"import sys; p, a, b = sys.argv[1:]; d = open(p, 'rb').read(); "
      "open(p, 'wb').write(d.replace(a.encode(), b.encode(), 1))\" ";
  ASSERT_EQ(run_command("cp " + good + " " + dir + "/flipped.bin && " + patch + dir +
                            "/flipped.bin weight_name weight_nbme",
                        &out),
            0)
      << out;
  std::string e = error_of(dir + "/flipped.bin");
  EXPECT_NE(e.find("CRC-32"), std::string::npos) << e;
  ASSERT_EQ(run_command("cp " + good + " " + dir + "/renamed.bin && " + patch + dir +
                            "/renamed.bin archive/data.pkl archive/data.pkx",
                        &out),
            0)
      << out;
  e = error_of(dir + "/renamed.bin");
  EXPECT_NE(e.find("local header names another entry"), std::string::npos) << e;
}

// A tensor's storage read back exactly (1.2 MB of float32), and the same
// file with one byte of that storage changed: refused by its CRC-32, naming
// the tensor (the pickle is intact, so only the storage's check can catch it).
TEST(TorchZipHostile, StorageBytesAreCheckedByTheirCrc) {
  const std::string dir = make_temp_dir("storage-crc");
  const std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  constexpr int64_t kCount = 300001;
  std::string out;
  ASSERT_EQ(run_command("/usr/bin/python3 -c \"import struct, sys, torch; "
                        "torch.save({'w': torch.arange(" +
                            std::to_string(kCount) +
                            ", dtype=torch.float32)}, sys.argv[1]); "
                            "d = open(sys.argv[1], 'rb').read(); v = struct.pack('<f', 123456.0); "
                            "assert d.count(v) == 1; open(sys.argv[2], 'wb').write(d.replace(v, "
                            "struct.pack('<f', 123457.0)))\" " +
                            good + " " + bad,
                        &out),
            0)
      << out;
  {
    acoustok::features::TorchZipWeights w(good);
    std::vector<float> v(kCount);
    w.read_float32_into("w", v.data());
    for (int64_t i = 0; i < kCount; i += 997)
      ASSERT_EQ(v[static_cast<size_t>(i)], static_cast<float>(i)) << i;
    EXPECT_EQ(v.back(), static_cast<float>(kCount - 1));
  }
  acoustok::features::TorchZipWeights w(bad);  // the pickle is intact: only reading the storage fails
  std::vector<float> v(kCount);
  try {
    w.read_float32_into("w", v.data());
    ADD_FAILURE() << "a changed storage byte was not noticed";
  } catch (const acoustok::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(bad), std::string::npos) << m;
    EXPECT_NE(m.find("tensor 'w'"), std::string::npos) << m;
    EXPECT_NE(m.find("fails its CRC-32 check"), std::string::npos) << m;
  }
}

// ---- fairseq checkpoints (tests/fixtures/gen_fairseq_fixtures.py) ----------

namespace {

using acoustok::features::TorchZipWeights;

std::string fairseq_fixture(const std::string& name) { return acoustok::test::fixture("fairseq/" + name); }

template <typename F>
std::string message_of(F f) {
  try {
    f();
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

// The error reading `path` as a fairseq checkpoint ("" when none).
std::string checkpoint_error(const std::string& path) {
  return message_of([&] { TorchZipWeights w(path, TorchZipWeights::Contents::FairseqCheckpoint); });
}

// open_fairseq_checkpoint refuses the fixture `name` in one message naming
// the file and `reason`.
void expect_open_refused(const std::string& name, const std::string& reason) {
  const std::string path = fairseq_fixture(name);
  const std::string e = message_of([&] { acoustok::features::open_fairseq_checkpoint(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find(reason), std::string::npos) << e;
}

}  // namespace

// A real omegaconf DictConfig (typed value nodes, metadata, defaultdict,
// typing.Any) and the trainer's state read as plain data.
TEST(FairseqCheckpoint, DictConfigIsReadAsPlainData) {
  TorchZipWeights w(fairseq_fixture("hubert_cfg.pt"), TorchZipWeights::Contents::FairseqCheckpoint);
  EXPECT_EQ(w.strings().at("cfg.model._name"), "hubert");
  EXPECT_EQ(w.strings().at("cfg.model.conv_feature_layers"),
            "[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16,2,2)] * 2");
  EXPECT_EQ(w.integers().at("cfg.model.encoder_layers"), 3);
  EXPECT_EQ(w.integers().at("cfg.model.layer_norm_first"), 0);
  EXPECT_EQ(w.integers().at("cfg.task.normalize"), 0);
  EXPECT_EQ(w.integers().at("cfg.common.seed"), 1337);
  EXPECT_EQ(w.strings().at("cfg.model.extractor_mode"), "default");  // an EnumNode of a fairseq enum
  EXPECT_TRUE(w.contains("model.encoder.layers.2.fc2.weight"));
  EXPECT_EQ(w.info("model.encoder.pos_conv.0.weight_v").shape, (std::vector<int64_t>{32, 16, 15}));
}

TEST(FairseqCheckpoint, NamespaceArgsAreReadAsPlainData) {
  TorchZipWeights w(fairseq_fixture("wav2vec2_args.pt"), TorchZipWeights::Contents::FairseqCheckpoint);
  EXPECT_EQ(w.strings().at("args.arch"), "wav2vec2");
  EXPECT_EQ(w.strings().at("args.extractor_mode"), "layer_norm");
  EXPECT_EQ(w.integers().at("args.layer_norm_first"), 1);
  EXPECT_EQ(w.integers().at("args.normalize"), 1);
}

// A state-dict reader (pytorch_model.bin, vocoder checkpoints) still knows
// nothing of configuration objects.
TEST(FairseqCheckpoint, StateDictReadingRefusesConfigObjects) {
  const std::string e = message_of([] { TorchZipWeights w(fairseq_fixture("hubert_cfg.pt")); });
  EXPECT_NE(e.find("refuses pickle global 'omegaconf.dictconfig.DictConfig'"), std::string::npos) << e;
}

// cfg holding a REDUCE of os.system: refused by name while reading the
// pickle, before anything else.
TEST(FairseqCheckpoint, AGlobalOutsideThePolicyIsRefusedByName) {
  expect_open_refused("evil_cfg.pt", "refuses pickle global 'posix.system'");
}

// Names allowed for enum members and metadata are never called otherwise.
TEST(FairseqCheckpoint, AllowedNamesAreNotCallable) {
  const std::string dir = make_temp_dir("pkl-fairseq");
  const std::string path = write_bin(dir, "getattr",
                                     "__import__('pickle').dumps({'a': type('G', (), {'__reduce__': lambda "
                                     "self: (getattr, (dict, 'fromkeys'))})()}, "
                                     "protocol=2)");
  const std::string e = checkpoint_error(path);
  EXPECT_NE(e.find("refuses to call '__builtin__.getattr'"), std::string::npos) << e;
  const std::string path2 = write_bin(dir, "dict",
                                      "__import__('pickle').dumps({'a': type('G', (), {'__reduce__': lambda "
                                      "self: (dict, ([('x', 1)],))})()}, "
                                      "protocol=2)");
  const std::string e2 = checkpoint_error(path2);
  EXPECT_NE(e2.find("refuses to call '__builtin__.dict'"), std::string::npos) << e2;
}

// Namespaces (and DictConfigs) that share one big state each copy it: the
// copies count against the object budget, so a flood of them is refused
// instead of taking gigabytes.
TEST(FairseqCheckpoint, SharedStatesCountAgainstTheObjectBudget) {
  const std::string dir = make_temp_dir("pkl-fairseq-flood");
  const std::string path = write_bin(
      dir, "flood",
      "(lambda argparse, pickle: (lambda d: pickle.dumps({'a': [(lambda n: (setattr(n, '__dict__', d), n)[1])"
      "(argparse.Namespace()) for _ in range(400)]}, protocol=2))({str(i): i for i in range(20000)}))"
      "(__import__('argparse'), __import__('pickle'))");
  const std::string e = checkpoint_error(path);
  EXPECT_NE(e.find("more than 1048576 objects"), std::string::npos) << e;
}

TEST(FairseqCheckpoint, ConfigGivesTheArchitecture) {
  const auto h = acoustok::features::open_fairseq_checkpoint(fairseq_fixture("hubert_cfg.pt"));
  EXPECT_EQ(h.config.model_type, "hubert");
  EXPECT_FALSE(h.config.feat_extract_layer_norm);
  EXPECT_FALSE(h.config.conv_bias);
  EXPECT_EQ(h.config.conv_dim, std::vector<int64_t>(7, 16));
  EXPECT_EQ(h.config.conv_kernel, (std::vector<int64_t>{10, 3, 3, 3, 3, 2, 2}));
  EXPECT_EQ(h.config.conv_stride, (std::vector<int64_t>{5, 2, 2, 2, 2, 2, 2}));
  EXPECT_EQ(h.config.hidden_size, 32);
  EXPECT_EQ(h.config.num_hidden_layers, 3);
  EXPECT_EQ(h.config.num_attention_heads, 4);
  EXPECT_EQ(h.config.intermediate_size, 64);
  EXPECT_EQ(h.config.num_conv_pos_embeddings, 15);
  EXPECT_EQ(h.config.num_conv_pos_embedding_groups, 2);
  EXPECT_FALSE(h.config.do_stable_layer_norm);
  EXPECT_FALSE(h.config.do_normalize);
  EXPECT_EQ(h.weights->file_key("encoder.layers.0.attention.q_proj.weight"),
            "model.encoder.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(h.weights->file_key("feature_extractor.conv_layers.0.layer_norm.weight"),
            "model.feature_extractor.conv_layers.0.2.weight");
  EXPECT_TRUE(h.weights->contains("encoder.layers.2.feed_forward.output_dense.bias"));

  const auto w = acoustok::features::open_fairseq_checkpoint(fairseq_fixture("wav2vec2_args.pt"));
  EXPECT_EQ(w.config.model_type, "wav2vec2");
  EXPECT_TRUE(w.config.feat_extract_layer_norm);
  EXPECT_TRUE(w.config.conv_bias);
  EXPECT_TRUE(w.config.do_stable_layer_norm);
  EXPECT_TRUE(w.config.do_normalize);
  EXPECT_EQ(w.config.num_hidden_layers, 2);
  EXPECT_EQ(w.config.num_conv_pos_embeddings, 16);
  EXPECT_EQ(w.weights->file_key("feature_extractor.conv_layers.3.layer_norm.bias"),
            "model.feature_extractor.conv_layers.3.2.1.bias");
  EXPECT_TRUE(w.weights->contains("feature_extractor.conv_layers.6.layer_norm.bias"));
}

// An old Namespace kept as cfg.model (an AnyNode's value): its arch and fields.
TEST(FairseqCheckpoint, NamespaceInsideTheConfigIsTheModel) {
  const auto m = acoustok::features::open_fairseq_checkpoint(fairseq_fixture("namespace_in_cfg.pt"));
  EXPECT_EQ(m.config.model_type, "hubert");
  EXPECT_EQ(m.config.num_hidden_layers, 5);
  EXPECT_EQ(m.config.num_conv_pos_embeddings, 64);
  EXPECT_EQ(m.config.hidden_size, 768);  // fairseq's default
  EXPECT_TRUE(m.config.do_normalize);    // cfg.task.normalize
}

TEST(FairseqCheckpoint, UnknownArchitectureIsNamed) {
  expect_open_refused("unknown_arch.pt", "'cfg.model._name' is 'data2vec_audio'");
}

TEST(FairseqCheckpoint, ConvFeatureLayersGrammar) {
  using acoustok::features::parse_conv_feature_layers;
  const auto l =
      parse_conv_feature_layers("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]", "x");
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0], std::make_tuple(int64_t{512}, int64_t{10}, int64_t{5}));
  EXPECT_EQ(l[4], std::make_tuple(int64_t{512}, int64_t{3}, int64_t{2}));
  EXPECT_EQ(l[6], std::make_tuple(int64_t{512}, int64_t{2}, int64_t{2}));
  EXPECT_EQ(parse_conv_feature_layers(" [ (4,3,2,) , (5,2,1), ] * 2 ", "x").size(), 4u);
  for (const char* bad :
       {"__import__('os').system('id')", "[(512, 10)]", "[(512, 10, 5)] * 65", "[(0, 1, 1)]",
        "[(512, 10, 5)] +", "[(512, 10, 5)] - [(1,1,1)]", "[]", "[(1,1,1)] * 99999999999"}) {
    const std::string e =
        message_of([&] { parse_conv_feature_layers(bad, "'cfg.model.conv_feature_layers'"); });
    EXPECT_NE(e.find("'cfg.model.conv_feature_layers'"), std::string::npos) << bad << ": " << e;
  }
}
