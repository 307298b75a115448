// SPDX-License-Identifier: MIT
// The LibTorch vocoder: registered names (the checkpoint contract), shapes,
// checkpoints and chunked synthesis.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include <fstream>
#include <set>

#include "acoustok/error.hpp"
#include "acoustok/process.hpp"
#include "acoustok/vocoder.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/cpu_generator.hpp"
#include "vocoder/torch/grouped_conv1d.hpp"
#include "vocoder/torch/hifigan.hpp"
#include "cpu_isa_rerun.hpp"
#include "test_util.hpp"

using namespace acoustok;
using namespace acoustok::vocoder;

namespace {

std::map<std::string, std::vector<int64_t>> shapes(torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& p : m.named_parameters(true)) out[p.key()] = p.value().sizes().vec();
  for (const auto& b : m.named_buffers(true)) out[b.key()] = b.value().sizes().vec();
  return out;
}

void add_wn(std::map<std::string, std::vector<int64_t>>& m, const std::string& name, std::vector<int64_t> v) {
  m[name + ".weight_g"] = {v[0], 1, 1};
  if (v.size() == 4) m[name + ".weight_g"].push_back(1);
  m[name + ".bias"] = {v.size() == 3 && name.rfind("ups.", 0) == 0 ? v[1] : v[0]};
  m[name + ".weight_v"] = std::move(v);
}

// torch.nn.utils.spectral_norm's names: weight_orig, bias and the power
// iteration's buffers weight_u [out] and weight_v [in * kernel].
void add_sn(std::map<std::string, std::vector<int64_t>>& m, const std::string& name, std::vector<int64_t> v) {
  m[name + ".bias"] = {v[0]};
  m[name + ".weight_u"] = {v[0]};
  m[name + ".weight_v"] = {v[1] * v[2]};
  m[name + ".weight_orig"] = std::move(v);
}

// HiFi-GAN/speech-resynthesis names and shapes, written out from the config.
std::map<std::string, std::vector<int64_t>> expected_generator(const VocoderConfig& c) {
  std::map<std::string, std::vector<int64_t>> m;
  m["dict.weight"] = {c.num_units + (c.padding_row ? 1 : 0), c.embedding_dim};
  // fairseq codehifigan.py: the speaker's channels follow the units' into conv_pre.
  const int64_t speaker_dim = c.num_speakers > 0 || c.speaker_embedding_dim > 0 ? c.embedding_dim : 0;
  add_wn(m, "conv_pre", {c.upsample_initial_channel, c.embedding_dim + speaker_dim, 7});
  if (c.num_speakers > 0) m["spkr.weight"] = {c.num_speakers, c.embedding_dim};
  if (c.speaker_embedding_dim > 0) {
    m["spkr.weight"] = {c.embedding_dim, c.speaker_embedding_dim};
    m["spkr.bias"] = {c.embedding_dim};
  }
  if (c.dur_predictor_hidden > 0) {  // fastspeech2.py's VariancePredictor
    const int64_t h = c.dur_predictor_hidden, k = c.dur_predictor_kernel;
    m["dur_predictor.conv1.0.weight"] = {h, c.embedding_dim, k};
    m["dur_predictor.conv2.0.weight"] = {h, h, k};
    for (const char* n : {"conv1.0.bias", "ln1.weight", "ln1.bias", "conv2.0.bias", "ln2.weight", "ln2.bias"})
      m[std::string("dur_predictor.") + n] = {h};
    m["dur_predictor.proj.weight"] = {1, h};
    m["dur_predictor.proj.bias"] = {1};
  }
  int64_t ch = c.upsample_initial_channel;
  int r = 0;
  for (size_t i = 0; i < c.upsample_rates.size(); ++i) {
    add_wn(m, "ups." + std::to_string(i), {ch, ch / 2, c.upsample_kernel_sizes[i]});
    ch /= 2;
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j, ++r)
      for (size_t d = 0; d < c.resblock_dilation_sizes[j].size(); ++d)
        for (const char* conv : {"convs1", "convs2"})
          add_wn(m, "resblocks." + std::to_string(r) + "." + conv + "." + std::to_string(d),
                 {ch, ch, c.resblock_kernel_sizes[j]});
  }
  add_wn(m, "conv_post", {1, ch, 7});
  return m;
}

std::map<std::string, std::vector<int64_t>> expected_discriminator(const VocoderConfig& c) {
  std::map<std::string, std::vector<int64_t>> m;
  for (size_t p = 0; p < c.mpd_periods.size(); ++p) {
    const std::string base = "mpd.discriminators." + std::to_string(p);
    int64_t in = 1;
    for (int i = 0; i < 5; ++i) {
      add_wn(m, base + ".convs." + std::to_string(i), {c.mpd_channels[static_cast<size_t>(i)], in, 5, 1});
      in = c.mpd_channels[static_cast<size_t>(i)];
    }
    add_wn(m, base + ".conv_post", {1, in, 3, 1});
  }
  const int kernels[7] = {15, 41, 41, 41, 41, 41, 5};
  for (int s = 0; s < c.msd_scales; ++s) {
    const std::string base = "msd.discriminators." + std::to_string(s);
    const auto add = s == 0 ? add_sn : add_wn;  // HiFi-GAN: spectral norm on the first scale
    int64_t in = 1;
    for (size_t i = 0; i < 7; ++i) {
      add(m, base + ".convs." + std::to_string(i), {c.msd_channels[i], in / c.msd_groups[i], kernels[i]});
      in = c.msd_channels[i];
    }
    add(m, base + ".conv_post", {1, in, 3});
  }
  return m;
}

VocoderConfig tiny(int k) {
  VocoderConfig c = VocoderConfig::preset("tiny");
  c.num_units = k;
  return c;
}

}  // namespace

// First in this file, so that nothing has loaded a model yet: a program
// linked with libacoustok-torch that builds the models' classes itself (as
// this test and the benchmarks do) gets the threads configure_process asks
// for. (They were silently 1 here once LibTorch loaded on first use.) More
// than the CPUs the process may use is lowered to that.
TEST(VocoderModel, ConfigureProcessSetsLibTorchThreads) {
  const int cpus = acoustok::available_cpus();
  for (int threads : {1, cpus, cpus + 1, 100000}) {
    acoustok::ProcessOptions process;
    process.threads = threads;
    acoustok::configure_process(process);
    EXPECT_EQ(at::get_num_threads(), std::min(threads, cpus)) << threads << " asked for";
  }
}

TEST(VocoderModel, RegisteredNamesAndShapes) {
  for (const char* name : {"tiny", "v1"}) {
    VocoderConfig c = VocoderConfig::preset(name);
    c.num_units = 100;
    Generator g(c);
    Discriminator d(c);
    EXPECT_EQ(shapes(*g), expected_generator(c)) << name;
    EXPECT_EQ(shapes(*d), expected_discriminator(c)) << name;
  }
  // Released CodeHiFiGAN layouts: a speaker table with a duration
  // predictor, and a speaker embedder; k rows, no padding row.
  VocoderConfig table = VocoderConfig::preset("tiny");
  table.padding_row = false;
  table.num_speakers = 7;
  table.dur_predictor_hidden = 24;
  VocoderConfig embedder = table;
  embedder.num_speakers = 0;
  embedder.speaker_embedding_dim = 10;
  embedder.dur_predictor_hidden = 0;
  for (const VocoderConfig& c : {table, embedder}) {
    Generator g(c);
    EXPECT_EQ(shapes(*g), expected_generator(c)) << c.to_json();
  }
  VocoderConfig v1 = VocoderConfig::preset("v1");
  v1.num_units = 100;
  Generator g(v1);
  int64_t params = 0;
  for (const auto& p : g->parameters()) params += p.numel();
  // 13.27 M: V1's channels with the 320x rates of speech-resynthesis.
  EXPECT_EQ(params, 13271170);
}

// fairseq's config.json keys of CodeHiFiGAN conditioning, its defaults
// (200 speakers, embedder_dim 256), the model_in_dim they imply, and the
// round trip through acoustok's own JSON.
TEST(VocoderModel, ReleasedCodeHiFiGANConfig) {
  const std::string base = R"("num_embeddings": 100, "embedding_dim": 16, "upsample_initial_channel": 64,
      "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]])";
  const auto parse = [&](const std::string& extra) {
    return VocoderConfig::from_released_json("{" + base + (extra.empty() ? "" : ", " + extra) + "}",
                                             "config.json");
  };
  const auto dur = R"("dur_predictor_params": {"encoder_embed_dim": 16, "var_pred_hidden_dim": 24,
      "var_pred_kernel_size": 3, "var_pred_dropout": 0.5})";
  VocoderConfig c = parse(std::string(dur) + R"(, "multispkr": true, "model_in_dim": 32)");
  EXPECT_EQ(c.num_speakers, 200);
  EXPECT_EQ(c.dur_predictor_hidden, 24);
  EXPECT_EQ(c.model_in_dim(), 32);
  EXPECT_EQ(VocoderConfig::from_json(c.to_json(), "x").to_json(), c.to_json());
  EXPECT_EQ(VocoderConfig::from_json(c.to_json(), "x").num_speakers, 200);
  c = parse(R"("multispkr": true, "num_speakers": 7, "model_in_dim": 32)");
  EXPECT_EQ(c.num_speakers, 7);
  EXPECT_FALSE(c.has_duration_predictor());
  c = parse(R"("multispkr": true, "embedder_params": {"embedder_dim": 10}, "model_in_dim": 32)");
  EXPECT_EQ(c.speaker_embedding_dim, 256);
  EXPECT_EQ(c.num_speakers, 0);
  c = parse(
      R"("multispkr": true, "embedder_params": {"a": 1}, "embedder_dim": 10, "num_speakers": 5, "model_in_dim": 32)");
  EXPECT_EQ(c.speaker_embedding_dim, 10);
  EXPECT_EQ(c.num_speakers, 0);  // fairseq: the embedder wins
  c = parse(R"("multispkr": true, "embedder_params": {}, "num_speakers": 5, "model_in_dim": 32)");
  EXPECT_EQ(c.num_speakers, 5);  // {} is false in Python: a speaker table
  EXPECT_EQ(c.speaker_embedding_dim, 0);
  EXPECT_EQ(parse(R"("num_speakers": 5)").num_speakers, 0);  // without multispkr fairseq has no speaker
  // Refusals name config.json and the key.
  const auto refused = [&](const std::string& extra, const std::string& words) {
    try {
      parse(extra);
      ADD_FAILURE() << extra << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("config.json: ", 0), 0u) << what;
      EXPECT_NE(what.find(words), std::string::npos) << what;
    }
  };
  refused(R"("multispkr": true, "model_in_dim": 16)", "'model_in_dim' is 16");
  refused(R"("model_in_dim": 32)", "'model_in_dim' is 32");
  refused(R"("multispkr": true, "num_speakers": 0, "model_in_dim": 32)", "'num_speakers'");
  refused(R"("embedder_params": {"a": 1}, "model_in_dim": 16)", "'embedder_params' without 'multispkr'");
  refused(
      R"("dur_predictor_params": {"encoder_embed_dim": 8, "var_pred_hidden_dim": 24, "var_pred_kernel_size": 3})",
      "encoder_embed_dim");
  refused(R"("dur_predictor_params": {"encoder_embed_dim": 16, "var_pred_kernel_size": 3})",
          "'var_pred_hidden_dim'");
  refused(
      R"("dur_predictor_params": {"encoder_embed_dim": 16, "var_pred_hidden_dim": 24, "var_pred_kernel_size": 5})",
      "var_pred_kernel_size");
  refused(R"("f0": true)", "F0 quantiser");
  refused(R"("f0_quantizer_path": "f0.pt")", "'f0_quantizer_path'");
  // Bounds of acoustok's own JSON (a checkpoint is untrusted too).
  for (const char* bad :
       {R"({"base": "tiny", "num_speakers": -1})", R"({"base": "tiny", "speaker_embedding_dim": 70000})",
        R"({"base": "tiny", "num_speakers": 2, "speaker_embedding_dim": 3})",
        R"({"base": "tiny", "dur_predictor_hidden": 8, "dur_predictor_kernel": 5})"})
    EXPECT_THROW(VocoderConfig::from_json(bad, "x"), Error) << bad;
}

TEST(VocoderModel, OutputShapes) {
  torch::manual_seed(0);
  const VocoderConfig c = tiny(24);
  Generator g(c);
  Discriminator d(c);
  auto units = torch::randint(0, 24, {2, 7}, torch::kInt64);
  auto y = g->forward(units);
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 1, 7 * 320}));
  EXPECT_LE(y.abs().max().item<float>(), 1.0f);
  auto outs = d->forward(y);
  ASSERT_EQ(outs.size(), 8u);  // 5 periods + 3 scales
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(outs[i].fmaps.size(), 6u);
  for (size_t i = 5; i < 8; ++i) EXPECT_EQ(outs[i].fmaps.size(), 8u);
  MelLoss mel(torch::kCPU);
  EXPECT_EQ(mel.mel(torch::zeros({1, 1, 16000})).sizes().vec(), (std::vector<int64_t>{1, 80, 62}));
  // The padding id is a zero embedding.
  EXPECT_EQ(g->dict->weight[24].abs().sum().item<float>(), 0.0f);
}

TEST(VocoderModel, CheckpointRoundTripAndBadFiles) {
  torch::manual_seed(1);
  const std::string dir = test::make_temp_dir("ckpt");
  const VocoderConfig c = tiny(24);
  Generator g(c);
  write_checkpoint(dir + "/g.pt", c, {{"epoch", 3}}, {&g});
  auto voc = Vocoder::load(dir + "/g.pt", "cpu");
  EXPECT_EQ(voc->num_units(), 24);
  std::vector<int32_t> units{1, 5, 23, 0, 7};
  const auto audio = voc->synthesize(units.data(), units.size());
  ASSERT_EQ(audio.size(), 5u * 320u);
  {
    torch::NoGradGuard ng;
    g->eval();
    auto ref = g->forward(torch::tensor(std::vector<int64_t>{1, 5, 23, 0, 7}).view({1, -1})).reshape({-1});
    for (size_t i = 0; i < audio.size(); ++i)
      ASSERT_FLOAT_EQ(audio[i], ref[static_cast<int64_t>(i)].item<float>());
  }
  std::vector<int32_t> bad{1, 24};
  EXPECT_THROW(voc->synthesize(bad.data(), bad.size()), Error);

  auto message = [](const std::string& path) {
    try {
      Vocoder::load(path, "cpu");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Truncated, garbage, missing.
  const std::string bytes = test::read_file(dir + "/g.pt");
  std::ofstream(dir + "/trunc.pt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  std::ofstream(dir + "/junk.pt") << "not a checkpoint";
  for (const char* f : {"/trunc.pt", "/junk.pt", "/none.pt"}) {
    const std::string m = message(dir + f);
    EXPECT_NE(m.find(dir + f), std::string::npos) << m;
  }
  EXPECT_NE(message(dir + "/junk.pt").find("not a vocoder checkpoint"), std::string::npos);
  // A LibTorch archive (acoustok 0.1's checkpoints were such archives), and
  // a torch.save dict that is not a vocoder.
  torch::serialize::OutputArchive other;
  other.write("weight", torch::zeros({2}));
  other.save_to(dir + "/other.pt");
  EXPECT_NE(message(dir + "/other.pt").find("TorchScript archive"), std::string::npos)
      << message(dir + "/other.pt");
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("weight", torch::zeros({2}));
  const auto saved = torch::pickle_save(c10::IValue(dict));
  std::ofstream(dir + "/dict.pt", std::ios::binary)
      .write(saved.data(), static_cast<std::streamsize>(saved.size()));
  EXPECT_NE(message(dir + "/dict.pt").find("not a vocoder checkpoint"), std::string::npos)
      << message(dir + "/dict.pt");
}

// The CPU path synth and unitvocoder run (oneDNN, time-major, fused
// activations and residual sums) computes what the module computes: every
// preset, a custom config with odd upsampling kernels and no embedding
// padding row, lengths from one frame up, weights far from their init.
TEST(VocoderModel, CpuGeneratorEqualsTheModule) {
  torch::manual_seed(3);
  std::vector<VocoderConfig> configs;
  for (const char* name : {"tiny", "small", "v1"}) configs.push_back(VocoderConfig::preset(name));
  VocoderConfig odd = VocoderConfig::preset("tiny");
  odd.upsample_rates = {4, 4, 5, 4};
  odd.upsample_kernel_sizes = {9, 8, 11, 8};  // (k - u) odd for the first: one extra output step, as PyTorch
  odd.resblock_kernel_sizes = {3, 5, 7};
  odd.resblock_dilation_sizes = {{1, 2}, {1}, {3, 1, 2}};
  odd.upsample_initial_channel = 40;  // channel counts that are not multiples of 16
  odd.padding_row = false;
  configs.push_back(odd);
  for (VocoderConfig c : configs) {
    c.num_units = 24;
    Generator g(c);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : g->parameters())
        p.add_(torch::randn_like(p) * 0.05);  // away from init: no cancelling structure
    }
    g->eval();
    const CpuGenerator cpu(*g);
    for (int64_t frames : {1, 2, 7, 50}) {
      const auto units = torch::randint(0, 24, {frames}, torch::kInt64);
      c10::InferenceMode guard;
      const auto expected = g->forward(units.view({1, -1})).view({-1});
      const auto got = cpu.forward(units);
      ASSERT_EQ(got.sizes(), expected.sizes()) << c.name << " " << frames << " frames";
      const double scale = std::max(expected.abs().max().item<double>(), 1e-3);
      EXPECT_LT((got - expected).abs().max().item<double>() / scale, 1e-5)
          << c.name << " " << frames << " frames";
      EXPECT_GT(expected.abs().max().item<double>(), 1e-3)
          << c.name << ": a silent output would prove nothing";
    }
  }
}

// With a speaker (fairseq's CodeHiFiGAN), the CPU path appends the
// speaker's vector to every frame before conv_pre, as the module
// concatenates it: equal at the edges too, where conv_pre zero-pads the
// speaker channels as well (a bias folded into conv_pre would differ there).
TEST(VocoderModel, CpuGeneratorWithSpeakerEqualsTheModule) {
  torch::manual_seed(5);
  VocoderConfig c = VocoderConfig::preset("tiny");
  c.num_units = 24;
  c.padding_row = false;
  c.num_speakers = 4;
  Generator g(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : g->parameters()) p.add_(torch::randn_like(p) * 0.05);
    // Near silent at random init: louder, with a speaker's share that shows.
    g->conv_post->weight_g.mul_(20.0);
    g->spkr_table->weight.mul_(10.0);
  }
  g->eval();
  const CpuGenerator cpu(*g);
  c10::InferenceMode guard;
  const auto units = torch::randint(0, 24, {9}, torch::kInt64);
  torch::Tensor previous;
  for (int64_t id : {0, 3}) {
    const auto speaker = g->speaker_vector(torch::tensor({id}));  // [1, emb]
    const auto expected = g->forward(units.view({1, -1}), speaker).view({-1});
    const auto got = cpu.forward(units, speaker.view({-1}));
    ASSERT_EQ(got.sizes(), expected.sizes());
    const double scale = expected.abs().max().item<double>();
    ASSERT_GT(scale, 1e-2);
    EXPECT_LT((got - expected).abs().max().item<double>() / scale, 1e-5) << "speaker " << id;
    if (previous.defined()) {
      // Ten times the tolerance above: a path that dropped the speaker would fail it.
      EXPECT_GT((expected - previous).abs().max().item<double>() / scale, 1e-4)
          << "the speaker changes too little";
    }
    previous = expected;
  }
  EXPECT_THROW(cpu.forward(units), c10::Error);  // a speaker is needed
}

// The discriminators' grouped convolutions through our kernels equal ATen's
// conv1d, forward and all three gradients: strides 1-4 (every phase of the
// input's gradient), register tiles with remainders (lengths not multiples of
// the tile heights), 16/32/64-channel column blocks, no padding, a signal
// barely longer than the kernel, and an input that is already time-major (as
// the next layer receives it).
TEST(VocoderModel, GroupedConvEqualsATen) {
  struct Case {
    int64_t in, out, groups, taps, stride, padding, time, batch;
  };
  const std::vector<Case> cases = {
      {128, 128, 4, 41, 2, 20, 301, 2},                                   // v1 layer 1
      {128, 256, 16, 41, 2, 20, 150, 1},                                  // 8 in, 16 out per group
      {256, 512, 16, 41, 4, 20, 203, 2}, {64, 128, 2, 41, 1, 20, 95, 1},  // 64 out per group, stride 1
      {32, 96, 2, 15, 3, 7, 77, 2},  // 48 out: a 32 and a 16 block; stride 3
      {48, 32, 2, 9, 1, 0, 40, 1},   // no padding
      {64, 64, 4, 41, 4, 20, 3, 1},  // 3 steps: shorter than the kernel, padding makes up the rest
  };
  if (!grouped_conv1d_applies(torch::zeros({1, 128, 64}), torch::zeros({128, 32, 41}), 2, 4))
    GTEST_SKIP() << "no AVX2 on this CPU (or ACOUSTOK_MAX_CPU_ISA=generic, ACOUSTOK_GROUPED_CONV=aten): ATen "
                    "runs these convolutions";
  // Our results, for the bitwise comparison of instruction sets below.
  std::ofstream dump;
  if (const char* path = std::getenv("ACOUSTOK_TEST_GROUPED_CONV_DUMP")) dump.open(path, std::ios::binary);
  torch::manual_seed(7);
  for (const Case& k : cases) {
    const std::string what = std::to_string(k.in) + "->" + std::to_string(k.out) + " g" +
                             std::to_string(k.groups) + " k" + std::to_string(k.taps) + " s" +
                             std::to_string(k.stride) + " T" + std::to_string(k.time);
    for (bool time_major : {false, true}) {
      auto x0 = torch::randn({k.batch, k.in, k.time});
      if (time_major) x0 = x0.transpose(1, 2).contiguous().transpose(1, 2);
      const auto w0 = torch::randn({k.out, k.in / k.groups, k.taps}) * 0.1, b0 = torch::randn({k.out});
      ASSERT_TRUE(grouped_conv1d_applies(x0, w0, k.stride, k.groups)) << what;
      const auto run = [&](bool ours) {
        auto x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true),
             b = b0.clone().requires_grad_(true);
        auto y = ours ? grouped_conv1d(x, w, b, k.stride, k.padding, k.groups)
                      : torch::conv1d(x, w, b, k.stride, k.padding, 1, k.groups);
        torch::manual_seed(11);
        (y * torch::randn(y.sizes())).sum().backward();
        return std::vector<torch::Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
      };
      const auto got = run(true), want = run(false);
      const char* names[] = {"output", "input gradient", "weight gradient", "bias gradient"};
      for (size_t i = 0; i < 4; ++i) {
        const auto c = got[i].contiguous();
        if (dump.is_open())
          dump.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
        ASSERT_EQ(got[i].sizes(), want[i].sizes()) << what << " " << names[i];
        const double scale = want[i].abs().max().item<double>();
        ASSERT_GT(scale, 1e-3) << what << " " << names[i];
        EXPECT_LT((got[i] - want[i]).abs().max().item<double>() / scale, 1e-5) << what << " " << names[i];
      }
    }
  }
}

// The same at each instruction set this CPU runs our kernels at (AVX2 on an
// AVX-512 machine too), and the AVX2 and AVX-512 kernels give the same bits.
TEST(VocoderModel, GroupedConvAtEveryInstructionSet) {
  if (test::cpu_isa_capped_run()) GTEST_SKIP() << "a capped run";
  const std::string dir = test::make_temp_dir("grouped-conv");
  std::vector<std::string> ran;
  for (const std::string& level : test::cpu_isa_levels()) {
    if (level == "generic") continue;  // ATen's conv1d there
    std::string output;
    EXPECT_EQ(test::rerun_at_cpu_isa(level, "VocoderModel.GroupedConvEqualsATen", &output,
                                     "ACOUSTOK_TEST_GROUPED_CONV_DUMP=" + dir + "/" + level),
              0)
        << "ACOUSTOK_MAX_CPU_ISA=" << level << ":\n"
        << output;
    EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << "ACOUSTOK_MAX_CPU_ISA=" << level << ":\n"
                                                         << output;
    ran.push_back(level);
  }
  if (ran.size() == 2) {
    const std::string avx2 = test::read_file(dir + "/avx2"), avx512 = test::read_file(dir + "/avx512");
    EXPECT_GT(avx2.size(), 0u);
    EXPECT_TRUE(avx2 == avx512) << "the AVX2 and AVX-512 grouped convolutions differ";
  }
}

TEST(VocoderModel, StreamedEqualsWhole) {
  torch::manual_seed(2);
  const std::string dir = test::make_temp_dir("stream");
  for (const char* name : {"tiny", "v1"}) {
    VocoderConfig c = VocoderConfig::preset(name);
    c.num_units = 24;
    Generator g(c);
    write_checkpoint(dir + "/g.pt", c, {}, {&g});
    acoustok::ProcessOptions process;
    process.threads = 2;
    acoustok::configure_process(process);
    auto voc = Vocoder::load(dir + "/g.pt", "cpu");
    std::vector<int32_t> units(name == std::string("v1") ? 130 : 300);
    for (size_t i = 0; i < units.size(); ++i) units[i] = static_cast<int32_t>((i * 37 + i / 3) % 24);
    const auto whole = voc->synthesize(units.data(), units.size());
    StreamingVocoder s(*voc, 20);
    std::vector<float> out;
    for (size_t i = 0; i < units.size(); i += 9) {
      const auto part = s.push(units.data() + i, std::min<size_t>(9, units.size() - i));
      out.insert(out.end(), part.begin(), part.end());
    }
    const auto tail = s.finish();
    out.insert(out.end(), tail.begin(), tail.end());
    ASSERT_EQ(out.size(), whole.size()) << name;
    float worst = 0;
    for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - whole[i]));
    // Stated tolerance: 1e-5 (float rounding of differently sized convolutions).
    EXPECT_LT(worst, 1e-5f) << name;
  }
}

// Short lookahead on a real generator. HiFi-GAN's initialisation (normal,
// std 0.01) makes a near-constant output; unit filter norms and no output
// bias make a waveform that depends on its context (as in
// tests/bench/bench_vocoder_lookahead.cpp). Every chunk join: no sample step
// larger than both the streamed signal's own in the frame before it and
// whole synthesis's at the same place; the distance from whole synthesis
// shrinks as the lookahead grows.
TEST(VocoderModel, ShortLookaheadJoinsChunksSeamlessly) {
  torch::manual_seed(3);
  const std::string dir = test::make_temp_dir("lookahead");
  VocoderConfig c = VocoderConfig::preset("tiny");
  c.num_units = 24;
  Generator g(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : g->named_parameters()) {
      const std::string& key = p.key();
      if (key.size() > 8 && key.compare(key.size() - 8, 8, "weight_g") == 0) p.value().fill_(1.0);
      if (key == "conv_post.bias") p.value().zero_();
    }
  }
  write_checkpoint(dir + "/g.pt", c, {}, {&g});
  auto voc = Vocoder::load(dir + "/g.pt", "cpu");
  std::vector<int32_t> units(120);
  for (size_t i = 0; i < units.size(); ++i) units[i] = static_cast<int32_t>((i / 3 * 7) % 24);
  const auto whole = voc->synthesize(units.data(), units.size());
  const auto largest_step = [](const std::vector<float>& x, size_t from, size_t to) {
    float worst = 0;
    for (size_t i = from; i < to; ++i) worst = std::max(worst, std::abs(x[i] - x[i - 1]));
    return worst;
  };
  for (int chunk : {1, 25}) {
    double previous_error = 1e30;
    for (int lookahead : {0, 2, 5}) {
      SCOPED_TRACE("chunk " + std::to_string(chunk) + ", lookahead " + std::to_string(lookahead));
      StreamingVocoder s(*voc, chunk, -1, lookahead);
      ASSERT_TRUE(s.crossfades());
      std::vector<float> out;
      for (size_t i = 0; i < units.size(); i += 9) {
        const auto part = s.push(units.data() + i, std::min<size_t>(9, units.size() - i));
        out.insert(out.end(), part.begin(), part.end());
        EXPECT_LE(s.frames_pushed() - s.frames_emitted(), chunk + lookahead - 1);
      }
      const auto tail = s.finish();
      out.insert(out.end(), tail.begin(), tail.end());
      ASSERT_EQ(out.size(), whole.size());
      const size_t every = static_cast<size_t>(chunk) * 320;
      for (size_t j = every; j < out.size(); j += every)
        EXPECT_LE(largest_step(out, j - 2, j + 2),
                  1.5f * std::max(largest_step(out, j - 322, j - 2), largest_step(whole, j - 2, j + 2)))
            << "join " << j;
      double error = 0;
      for (size_t i = 0; i < out.size(); ++i) error += (out[i] - whole[i]) * (out[i] - whole[i]);
      EXPECT_LT(error, previous_error);
      previous_error = error;
    }
  }
}
