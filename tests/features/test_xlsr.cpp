// SPDX-License-Identifier: MIT
// wav2vec2 / XLSR-53 / HuBERT features against torchaudio's extract_features
// (fixtures from tests/fixtures/gen_xlsr_fixtures.py), and hostile model files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "acoustok/tensor_file.hpp"
#include "features/torch_zip.hpp"
#include "features/wav2vec2_config.hpp"
#include "features/weight_source.hpp"
#include "cpu_isa_rerun.hpp"
#include "feature_test_util.hpp"
#include "test_util.hpp"
#include "features/torch/wav2vec2_loader.hpp"

namespace fs = std::filesystem;
using acoustok::test::error_of;
using acoustok::test::fixture;
using acoustok::test::load;
using acoustok::test::make_temp_dir;
using acoustok::test::speech;

namespace {

std::string model(const std::string& name) { return fixture("xlsr/" + name); }

void expect_matches_reference(const acoustok::Features& f, const std::string& ref_name) {
  acoustok::test::expect_matches_reference(f, "xlsr/refs", ref_name);
}

void copy_folder(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from))
    fs::copy_file(e.path(), fs::path(to) / e.path().filename());
}

std::string read_bytes(const std::string& path) { return acoustok::test::read_file(path); }
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

struct ParityCase {
  const char* folder;
  const char* family;
  int layer;
};

class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, MatchesTorchaudioExtractFeatures) {
  const ParityCase& c = GetParam();
  auto fx = load(model(c.folder), c.layer);
  EXPECT_EQ(fx->layer(), c.layer);
  const acoustok::Features f = fx->extract(speech().data(), speech().size());
  expect_matches_reference(f, std::string(c.family) + "_L" + std::to_string(c.layer));
}

INSTANTIATE_TEST_SUITE_P(
    Models, Parity,
    ::testing::Values(ParityCase{"xlsr_st", "xlsr", 1}, ParityCase{"xlsr_st", "xlsr", 2},
                      ParityCase{"xlsr_st", "xlsr", 3}, ParityCase{"xlsr_bin", "xlsr", 1},
                      ParityCase{"xlsr_bin", "xlsr", 3}, ParityCase{"base_st", "base", 1},
                      ParityCase{"base_st", "base", 2}, ParityCase{"base_bin", "base", 1},
                      ParityCase{"base_bin", "base", 2}, ParityCase{"hubert_bin", "hubert", 1},
                      ParityCase{"hubert_bin", "hubert", 3}),
    [](const auto& info) {
      return std::string(info.param.folder) + "_L" + std::to_string(info.param.layer);
    });

// Four copies of the speech at gains 1, 0.5, 0.25, 1 (as the generator's long_speech).
std::vector<float> long_speech() {
  std::vector<float> x;
  for (float g : {1.0f, 0.5f, 0.25f, 1.0f}) {
    for (float v : speech()) x.push_back(v * g);
  }
  return x;
}

// 601 frames: the CPU path's conv spans (layer-norm models), conv blocks with
// a padded last one, query blocks and feed-forward row blocks.
void expect_long_input_matches() {
  const std::vector<float> x = long_speech();
  expect_matches_reference(load(model("xlsr_st"), 3)->extract(x.data(), x.size()), "xlsr_long_L3");
  expect_matches_reference(load(model("base_bin"), 2)->extract(x.data(), x.size()), "base_long_L2");
  expect_matches_reference(load(model("hubert_bin"), 1)->extract(speech().data(), speech().size()),
                           "hubert_L1");
}

TEST(Xlsr, LongInputMatches) { expect_long_input_matches(); }

// The same through the plain modules (the CUDA path).
TEST(Xlsr, LongInputMatchesThroughThePlainModules) {
  setenv("ACOUSTOK_MATMUL", "plain", 1);
  expect_long_input_matches();
  unsetenv("ACOUSTOK_MATMUL");
}

// The same with the row kernels and oneDNN capped at each lower instruction
// set this CPU runs (AVX2, and the portable paths).
TEST(Xlsr, LongInputMatchesAtLowerInstructionSets) {
  if (acoustok::test::cpu_isa_capped_run()) GTEST_SKIP() << "a capped run";
  const auto levels = acoustok::test::cpu_isa_levels();
  for (size_t i = 0; i + 1 < levels.size(); ++i) {
    std::string output;
    EXPECT_EQ(acoustok::test::rerun_at_cpu_isa(levels[i], "Xlsr.LongInputMatches", &output), 0)
        << "ACOUSTOK_MAX_CPU_ISA=" << levels[i] << ":\n"
        << output;
  }
}

TEST(Xlsr, FramesFollowTheConvArithmetic) {
  const auto c = acoustok::features::read_wav2vec2_config(model("xlsr_st"));
  EXPECT_EQ(c.receptive_field(), 400);
  EXPECT_EQ(c.hop(), 320);
  for (int64_t n : {0, 1, 399, 400, 719, 720, 721, 16000, 48123}) {
    EXPECT_EQ(c.frames_for(n), acoustok::feature_frames(n)) << n;
  }
}

TEST(Xlsr, BlocksAboveTheLayerAreNeverRead) {
  // Their storages are absent from the archive: layer 1 loads and is right,
  // layer 2 fails naming the first missing tensor.
  auto fx = load(model("xlsr_upper_missing"), 1);
  expect_matches_reference(fx->extract(speech().data(), speech().size()), "xlsr_L1");
  const std::string e = error_of([] { load(model("xlsr_upper_missing"), 2); });
  EXPECT_NE(e.find("pytorch_model.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("wav2vec2.encoder.layers.1."), std::string::npos) << e;
  EXPECT_NE(e.find("missing from the archive"), std::string::npos) << e;
}

TEST(Xlsr, LoaderReadsOnlyTheBlocksItRunsAndNoPretrainingKeys) {
  for (const char* folder : {"xlsr_st", "xlsr_bin"}) {
    const auto config = acoustok::features::read_wav2vec2_config(model(folder));
    auto weights = acoustok::features::open_model_weights(model(folder));
    acoustok::features::Wav2Vec2 net(config, 1);
    acoustok::features::load_wav2vec2_weights(*net, config, *weights);
    uint64_t total = 0, lower = 0;
    for (const auto& name : weights->names()) {
      const auto info = weights->info(name);
      const uint64_t bytes = static_cast<uint64_t>(info.numel()) * acoustok::dtype_size(info.dtype);
      total += bytes;
      const bool upper = name.find("encoder.layers.1.") != std::string::npos ||
                         name.find("encoder.layers.2.") != std::string::npos;
      const bool pretraining =
          name.rfind("wav2vec2.", 0) != 0 || name.find("masked_spec_embed") != std::string::npos;
      const bool final_norm =
          name == "wav2vec2.encoder.layer_norm.weight" || name == "wav2vec2.encoder.layer_norm.bias";
      EXPECT_EQ(weights->names_read().count(name), upper || pretraining || final_norm ? 0u : 1u)
          << folder << " " << name;
      if (!upper && !pretraining && !final_norm) lower += bytes;
    }
    EXPECT_EQ(weights->bytes_read(), lower) << folder;
    EXPECT_LT(weights->bytes_read(), total);
  }
}

// --precision bf16 loads the packed weights straight into bfloat16: same
// names, each weight the float32 one rounded to nearest even, q, k and v
// still one merged operand, and features bit-identical to packing a float32
// load for BF16. The model's 4 heads of 8 (1/sqrt(8) is inexact: q, k, v
// stay float32), and the same weights read as 2 heads of 16 (exact: they
// are rounded too).
class Bf16Storage : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Heads, Bf16Storage, ::testing::Values(4, 2));

TEST_P(Bf16Storage, HoldsEachWeightRoundedAndRunsAsTheFloat32LoadDoes) {
  using acoustok::features::Wav2Vec2;
  const std::string dir = make_temp_dir("xlsr-heads");
  for (const char* f : {"model.safetensors", "preprocessor_config.json"})
    fs::copy_file(model("xlsr_st") + "/" + f, dir + "/" + f);
  nlohmann::json c = nlohmann::json::parse(std::ifstream(model("xlsr_st") + "/config.json"));
  c["num_attention_heads"] = GetParam();
  std::ofstream(dir + "/config.json") << c.dump();
  const auto config = acoustok::features::read_wav2vec2_config(dir);
  Wav2Vec2 f32(config, 2), b16(config, 2);
  b16->store_packed_weights_in_bf16();
  acoustok::features::load_wav2vec2_weights(*f32, config, *acoustok::features::open_model_weights(dir));
  acoustok::features::load_wav2vec2_weights(*b16, config, *acoustok::features::open_model_weights(dir));
  const auto p32 = f32->named_parameters(), p16 = b16->named_parameters();
  ASSERT_EQ(p32.keys(), p16.keys());
  int rounded = 0;
  for (const auto& item : p16) {
    const torch::Tensor want = p32[item.key()];
    if (item.value().scalar_type() == torch::kBFloat16) {
      ++rounded;
      EXPECT_TRUE(torch::equal(item.value(), want.to(torch::kBFloat16))) << item.key();
    } else {
      EXPECT_TRUE(torch::equal(item.value(), want)) << item.key();
    }
  }
  // Per block: out and the two feed-forward products, and q, k, v where
  // 1/sqrt(head dim) is exact on rounded weights; plus the projection, the
  // convs and the positional conv.
  const int head_dim = static_cast<int>(config.hidden_size / config.num_attention_heads);
  const bool qkv_rounded = head_dim == 16 || head_dim == 64 || head_dim == 256;
  EXPECT_EQ(rounded, 2 * (qkv_rounded ? 6 : 3) + 1 + static_cast<int>(config.conv_dim.size()) + 1);
  const torch::Tensor q = p16["encoder.layers.0.attention.q_proj.weight"],
                      k = p16["encoder.layers.0.attention.k_proj.weight"];
  EXPECT_EQ(q.scalar_type(), qkv_rounded ? torch::kBFloat16 : torch::kFloat32);
  EXPECT_EQ(static_cast<const char*>(k.data_ptr()), static_cast<const char*>(q.data_ptr()) + q.nbytes());
  if (!acoustok::onednn::bf16_supported()) GTEST_SKIP() << "no AVX512_BF16 or AMX: the products are not run";
  f32->prepare_cpu(acoustok::onednn::Precision::BF16);
  b16->prepare_cpu(acoustok::onednn::Precision::BF16);
  c10::InferenceMode guard;
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(speech().data()), {1, static_cast<int64_t>(speech().size())});
  EXPECT_TRUE(torch::equal(f32->forward(x), b16->forward(x)));
}

TEST(Xlsr, LayerOutOfRangeIsAnError) {
  for (int layer : {0, -1, 4, 24}) {
    const std::string e = error_of([&] { load(model("xlsr_st"), layer); });
    EXPECT_NE(e.find("out of range"), std::string::npos) << e;
    EXPECT_NE(e.find("1..3"), std::string::npos) << e;
  }
}

TEST(Xlsr, AudioShorterThanOneFrameGivesZeroFrames) {
  auto fx = load(model("base_st"), 1);
  for (size_t n : {0, 1, 399}) {
    const auto f = fx->extract(speech().data(), n);
    EXPECT_EQ(f.frames, 0) << n;
    EXPECT_EQ(f.dim, 32);
    EXPECT_TRUE(f.data.empty());
  }
  EXPECT_EQ(fx->extract(speech().data() + 8000, 400).frames, 1);
  EXPECT_EQ(fx->extract(speech().data() + 8000, 720).frames, 2);
}

TEST(Xlsr, NanOrInfSamplesAreAnError) {
  auto fx = load(model("base_st"), 1);
  std::vector<float> x(speech().begin(), speech().begin() + 4000);
  x[1234] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of([&] { fx->extract(x.data(), x.size()); }).find("NaN"), std::string::npos);
  x[1234] = std::numeric_limits<float>::infinity();
  EXPECT_NE(error_of([&] { fx->extract(x.data(), x.size()); }).find("infinite"), std::string::npos);
  x[1234] = 0;
  EXPECT_EQ(fx->extract(x.data(), x.size()).frames, acoustok::feature_frames(4000));
}

TEST(Xlsr, ConstantAudioIsFinite) {
  // Zero variance: the 1e-7 of the normalisation keeps it finite.
  auto fx = load(model("base_st"), 2);
  std::vector<float> x(3200, 0.25f);
  const auto f = fx->extract(x.data(), x.size());
  for (float v : f.data) ASSERT_TRUE(std::isfinite(v));
}

// ---- bad folders and files ---------------------------------------------------

TEST(XlsrFiles, ConfigErrorsNameFileAndField) {
  const std::string dir = make_temp_dir("xlsr-config");
  copy_folder(model("xlsr_st"), dir + "/m");
  const std::string cfg_path = dir + "/m/config.json";
  const nlohmann::json good = nlohmann::json::parse(read_bytes(cfg_path));
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    write_bytes(cfg_path, j.dump());
    return error_of([&] { load(dir + "/m", 1); });
  };
  std::string e = with([](auto& j) { j["model_type"] = "whisper"; });
  EXPECT_NE(e.find(cfg_path), std::string::npos) << e;
  EXPECT_NE(e.find("unknown model_type 'whisper'"), std::string::npos) << e;
  e = with([](auto& j) { j.erase("hidden_size"); });
  EXPECT_NE(e.find("'hidden_size'"), std::string::npos) << e;
  e = with([](auto& j) { j["hidden_size"] = 64; });  // weights are 32 wide
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("tensor 'wav2vec2."), std::string::npos) << e;
  EXPECT_NE(e.find("config.json implies"), std::string::npos) << e;
  e = with([](auto& j) { j["num_hidden_layers"] = 5; });  // the file has 3 blocks
  EXPECT_EQ(error_of([&] { load(dir + "/m", 3); }), "<no error>");
  e = error_of([&] { load(dir + "/m", 4); });
  EXPECT_NE(e.find("missing tensor 'wav2vec2.encoder.layers.3."), std::string::npos) << e;
  write_bytes(cfg_path, "{not json");
  EXPECT_NE(error_of([&] { load(dir + "/m", 1); }).find("not valid JSON"), std::string::npos);
  fs::remove(cfg_path);
  EXPECT_NE(error_of([&] { load(dir + "/m", 1); }).find("config.json"), std::string::npos);
  EXPECT_NE(error_of([&] { load(dir + "/nowhere", 1); }).find("nowhere"), std::string::npos);
}

TEST(XlsrFiles, PreprocessorConfigControlsNormalisation) {
  const std::string dir = make_temp_dir("xlsr-pre");
  copy_folder(model("base_st"), dir + "/m");
  fs::remove(dir + "/m/preprocessor_config.json");  // absent: normalise
  auto a = load(dir + "/m", 2)->extract(speech().data(), speech().size());
  expect_matches_reference(a, "base_L2");
  write_bytes(dir + "/m/preprocessor_config.json", R"({"do_normalize": false})");
  std::vector<float> scaled(speech());
  for (float& v : scaled) v *= 0.1f;  // only normalisation would undo this
  auto b = load(dir + "/m", 2)->extract(scaled.data(), scaled.size());
  float diff = 0;
  for (size_t i = 0; i < a.data.size(); ++i) diff = std::max(diff, std::abs(a.data[i] - b.data[i]));
  EXPECT_GT(diff, 0.01f);
}

TEST(XlsrFiles, MissingWeightsFileIsAnError) {
  const std::string dir = make_temp_dir("xlsr-noweights");
  copy_folder(model("xlsr_st"), dir + "/m");
  fs::remove(dir + "/m/model.safetensors");
  const std::string e = error_of([&] { load(dir + "/m", 1); });
  EXPECT_NE(e.find("model.safetensors or pytorch_model.bin"), std::string::npos) << e;
}

TEST(XlsrFiles, PickleGlobalsOutsideAStateDictAreRefused) {
  const std::string e =
      error_of([] { acoustok::features::TorchZipWeights w(model("evil_bin/pytorch_model.bin")); });
  EXPECT_NE(e.find("refuses pickle global 'posix.system'"), std::string::npos) << e;
  EXPECT_NE(e.find("evil_bin/pytorch_model.bin"), std::string::npos) << e;
}

TEST(XlsrFiles, BinReaderHandlesStridesOffsetsAndHalfStorages) {
  // base_bin holds a column-major q_proj weight and two biases sharing one
  // storage; base_st holds the same values plainly.
  acoustok::features::TorchZipWeights bin(model("base_bin/pytorch_model.bin"));
  acoustok::features::SafetensorsWeights st(model("base_st/model.safetensors"));
  for (const char* key :
       {"wav2vec2.encoder.layers.0.attention.q_proj.weight",
        "wav2vec2.encoder.layers.1.attention.k_proj.bias", "wav2vec2.encoder.layers.1.attention.v_proj.bias",
        "wav2vec2.feature_projection.projection.weight"}) {
    EXPECT_EQ(bin.info(key).shape, st.info(key).shape) << key;
    EXPECT_EQ(bin.read_float32(key), st.read_float32(key)) << key;
  }
  acoustok::features::TorchZipWeights half(model("hubert_bin/pytorch_model.bin"));
  EXPECT_EQ(half.info("hubert.feature_projection.projection.weight").dtype, acoustok::DType::F16);
}

// Truncations and byte flips anywhere in either format: an acoustok::Error or a
// working model, never a crash or another exception type.
void hammer(const std::string& folder, const std::string& file, int layer) {
  const std::string dir = make_temp_dir("xlsr-hammer");
  copy_folder(model(folder), dir + "/m");
  const std::string path = dir + "/m/" + file;
  const std::string good = read_bytes(path);
  std::mt19937 rng(7);
  int errors = 0, loads = 0;
  auto attempt = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    try {
      auto fx = load(dir + "/m", layer);
      fx->extract(speech().data(), 4000);
      ++loads;
    } catch (const acoustok::Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
    }
  };
  for (size_t cut :
       {size_t{0}, size_t{7}, size_t{21}, size_t{100}, good.size() / 3, good.size() / 2, good.size() - 1}) {
    attempt(good.substr(0, cut));
  }
  for (int round = 0; round < 40; ++round) {
    std::string bad = good;
    // Flip in the first and last KB (headers, pickle, zip directory) more often than in the data.
    for (int k = 0; k < 4; ++k) {
      size_t at = rng() % bad.size();
      if (round % 2 == 0) at = rng() % std::min<size_t>(1024, bad.size());
      if (round % 4 == 1) at = bad.size() - 1 - rng() % std::min<size_t>(2048, bad.size());
      bad[at] = static_cast<char>(rng());
    }
    attempt(bad);
  }
  attempt(std::string(good.size(), '\x00'));
  std::string garbage(4096, ' ');
  for (char& c : garbage) c = static_cast<char>(rng());
  attempt(garbage);
  EXPECT_GE(errors, 9) << "every truncation and the garbage must be refused";
  std::printf("%s: %d refused, %d loaded\n", file.c_str(), errors, loads);
}

TEST(XlsrFiles, HostileBinFilesAreErrorsNotCrashes) { hammer("xlsr_bin", "pytorch_model.bin", 3); }
TEST(XlsrFiles, HostileSafetensorsFilesAreErrorsNotCrashes) { hammer("xlsr_st", "model.safetensors", 3); }

// Issue 14: a NaN or infinite weight is refused by name (it gave NaN features
// on one path and finite ones on another).
TEST(XlsrFiles, NonFiniteWeightsAreRefusedByName) {
  const std::string dir = make_temp_dir("xlsr-nan");
  for (const char* value : {"nan", "inf"}) {
    const std::string m = dir + "/" + value;
    copy_folder(model("xlsr_st"), m);
    std::string out;
    ASSERT_EQ(acoustok::test::run_command(
                  "/usr/bin/python3 -c \"import json, struct, sys\n"
                  "p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); n = struct.unpack('<Q', b[:8])[0]\n"
                  "h = json.loads(b[8:8 + n]); t = h['wav2vec2.encoder.layers.0.attention.k_proj.weight']\n"
                  "assert t['dtype'] == 'F32'; at = 8 + n + t['data_offsets'][0] + 4 * 5\n"
                  "b[at:at + 4] = struct.pack('<f', float(sys.argv[2])); open(p, 'wb').write(b)\" " +
                      m + "/model.safetensors " + value,
                  &out),
              0)
        << out;
    const std::string e = error_of([&] { load(m, 1); });
    EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
    EXPECT_NE(e.find("wav2vec2.encoder.layers.0.attention.k_proj.weight"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string(value) == "nan" ? "NaN value at element 5" : "infinite value at element 5"),
              std::string::npos)
        << e;
  }
}

// Issue 14: a conv stack off the 20 ms grid (here a hop of 640 samples) gave
// `features` 510 frames but xlsrfeat 255; it is refused by name instead.
TEST(XlsrFiles, ConvStacksOffThe20MsGridAreRefused) {
  const std::string dir = make_temp_dir("xlsr-stride");
  copy_folder(model("xlsr_st"), dir + "/m");
  std::string config = read_bytes(dir + "/m/config.json");
  const size_t at = config.find("\"conv_stride\"");
  ASSERT_NE(at, std::string::npos);
  const size_t five = config.find('5', at);
  ASSERT_NE(five, std::string::npos);
  config.replace(five, 1, "9");  // hop 320 -> 576
  write_bytes(dir + "/m/config.json", config);
  const std::string e = error_of([&] { load(dir + "/m", 1); });
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("a frame every 576 samples"), std::string::npos) << e;
}
