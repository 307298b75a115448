// SPDX-License-Identifier: MIT
// Harness of the parity test (tests/vocoder/vocoder_parity.py), run by
// tests/vocoder/test_vocoder_parity.sh:
//
//   vocoder_step_dump init CONFIG OUT.pt [SEED]
//       a fresh acoustok checkpoint (generator and discriminators, as
//       `vocoder train` initialises them) for a config name or JSON file
//   vocoder_step_dump step [--double] CHECKPOINT BATCH.pt OUT.pt
//       one training step (acoustok's train_step, AdamW fresh; in float64
//       with --double, so that the comparison is not at the mercy of float32
//       rounding where the log-mel floor clamps) on the batch
//       {"units": int64 [B, F], "audio": float32 [B, 1, F * 320]}; OUT.pt
//       is a flat torch.save dict of everything it computed: "audio_g",
//       "d.{i}.{real,fake}.score", "d.{i}.{real,fake}.fmap.{l}", "loss_d",
//       "loss_g", "loss_mel", "loss_fm", "loss_adv", "grad_d.{name}",
//       "grad_g.{name}", "after_d.{name}", "after_g.{name}" (parameters and
//       buffers after both optimiser steps)
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "acoustok/error.hpp"
#include "features/torch_zip.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/train_step.hpp"

using namespace acoustok;

namespace {

c10::impl::GenericDict new_dict() {
  return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
}

void save(const c10::impl::GenericDict& d, const std::string& path) {
  const auto bytes = torch::pickle_save(c10::IValue(d));
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(path + ": cannot write");
}

torch::Tensor read(features::TorchZipWeights& f, const std::string& name, DType want,
                   torch::ScalarType type) {
  if (f.info(name).dtype != want)
    throw Error(f.path() + ": '" + name + "' has dtype " + dtype_name(f.info(name).dtype));
  auto raw = f.read_raw(name);
  return torch::from_blob(raw.data(), f.info(name).shape, type).clone();
}

void put(c10::impl::GenericDict& d, const std::string& key, const torch::Tensor& t) {
  d.insert(key, t.detach().to(torch::kCPU).contiguous());
}

int init(const std::string& config_arg, const std::string& out, int seed) {
  auto config = VocoderConfig::from_argument(config_arg);
  torch::manual_seed(seed);
  vocoder::Generator g(config);
  vocoder::Discriminator d(config);
  vocoder::write_checkpoint(out, config, nlohmann::json::object(), {&g, &d});
  return 0;
}

int step(const std::string& checkpoint, const std::string& batch_path, const std::string& out, bool dbl) {
  vocoder::CheckpointReader reader(checkpoint);
  const VocoderConfig config = reader.config();
  vocoder::Generator g(config);
  vocoder::Discriminator d(config);
  reader.load({&g, &d});
  features::TorchZipWeights batch(batch_path);
  const auto units = read(batch, "units", DType::I64, torch::kInt64);
  auto audio = read(batch, "audio", DType::F32, torch::kFloat32);
  if (dbl) {
    g->to(torch::kFloat64);
    d->to(torch::kFloat64);
    audio = audio.to(torch::kFloat64);
  }
  auto og = vocoder::make_optimizer(g->parameters(), 2e-4);
  auto od = vocoder::make_optimizer(d->parameters(), 2e-4);
  vocoder::MelLoss mel(torch::kCPU);
  vocoder::StepTrace t;
  const auto losses = vocoder::train_step(g, d, *og, *od, mel, units, audio, &t);
  std::fprintf(stderr, "step: loss_d %.6f loss_g %.6f (mel %.6f fm %.6f adv %.6f)\n", losses.d, losses.g,
               losses.mel, losses.fm, losses.adv);

  auto o = new_dict();
  put(o, "audio_g", t.audio_g);
  for (size_t i = 0; i < t.d_real.size(); ++i) {
    for (const char* side : {"real", "fake"}) {
      const auto& r = std::strcmp(side, "real") == 0 ? t.d_real[i] : t.d_fake[i];
      const std::string p = "d." + std::to_string(i) + "." + side;
      put(o, p + ".score", r.score);
      for (size_t l = 0; l < r.fmaps.size(); ++l) put(o, p + ".fmap." + std::to_string(l), r.fmaps[l]);
    }
  }
  put(o, "loss_d", t.loss_d);
  put(o, "loss_g", t.loss_g);
  put(o, "loss_mel", t.loss_mel);
  put(o, "loss_fm", t.loss_fm);
  put(o, "loss_adv", t.loss_adv);
  for (const auto& [n, v] : t.grad_d) put(o, "grad_d." + n, v);
  for (const auto& [n, v] : t.grad_g) put(o, "grad_g." + n, v);
  for (const auto& p : d->named_parameters(true)) put(o, "after_d." + p.key(), p.value());
  for (const auto& p : d->named_buffers(true)) put(o, "after_d." + p.key(), p.value());
  for (const auto& p : g->named_parameters(true)) put(o, "after_g." + p.key(), p.value());
  save(o, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "init" && (argc == 4 || argc == 5))
      return init(argv[2], argv[3], argc == 5 ? std::atoi(argv[4]) : 0);
    if (mode == "step" && argc == 5) return step(argv[2], argv[3], argv[4], false);
    if (mode == "step" && argc == 6 && std::string(argv[2]) == "--double")
      return step(argv[3], argv[4], argv[5], true);
    std::fprintf(
        stderr,
        "usage: vocoder_step_dump init CONFIG OUT.pt [SEED] | step [--double] CHECKPOINT BATCH.pt OUT.pt\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vocoder_step_dump: %s\n", e.what());
    return 1;
  }
}
