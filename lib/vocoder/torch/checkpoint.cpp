// SPDX-License-Identifier: MIT
#include "vocoder/torch/checkpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"

namespace acoustok::vocoder {
namespace {

constexpr const char* kFormat = "acoustok-vocoder";
constexpr int64_t kVersion = 1;

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

void write_module(torch::serialize::OutputArchive& root, const std::string& key, torch::nn::Module& m) {
  torch::serialize::OutputArchive sub;
  for (const auto& [name, t] : named_tensors(m)) sub.write(name, t.detach());
  root.write(key, sub);
}

void read_module(const std::string& path, torch::serialize::InputArchive& root, const std::string& key,
                 torch::nn::Module& m) {
  torch::serialize::InputArchive sub;
  if (!root.try_read(key, sub)) throw file_error(path, "vocoder checkpoint has no '" + key + "' weights");
  const auto expected = named_tensors(m);
  std::set<std::string> wanted;
  for (const auto& e : expected) wanted.insert(e.first);
  for (const auto& k : sub.keys())
    if (!wanted.count(k)) throw file_error(path, "unexpected tensor '" + key + "." + k + "' (another model layout?)");
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : expected) {
    torch::Tensor t;
    if (!sub.try_read(name, t)) throw file_error(path, "missing tensor '" + key + "." + name + "'");
    if (t.sizes() != target.sizes())
      throw file_error(path, "tensor '" + key + "." + name + "' has shape " + c10::str(t.sizes()) + ", the config needs " +
                                 c10::str(target.sizes()));
    if (!torch::isfinite(t).all().item<bool>()) throw file_error(path, "tensor '" + key + "." + name + "' holds NaN or Inf");
    target.copy_(t);
  }
}

}  // namespace

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) throw Error("--device " + name + ": this LibTorch has no usable CUDA device");
    return torch::Device(name);
  }
  throw Error("--device " + name + ": expected auto, cpu or cuda[:N]");
}

void write_checkpoint(const std::string& path, const VocoderConfig& config, const nlohmann::json& state,
                      const CheckpointParts& parts) {
  torch::serialize::OutputArchive root;
  root.write("format", c10::IValue(std::string(kFormat)));
  root.write("version", c10::IValue(kVersion));
  root.write("config", c10::IValue(config.to_json()));
  root.write("state", c10::IValue(state.dump()));
  write_module(root, "generator", **parts.generator);
  if (parts.discriminator) write_module(root, "discriminator", **parts.discriminator);
  if (parts.optim_g && parts.optim_d) {
    torch::serialize::OutputArchive og, od;
    parts.optim_g->save(og);
    parts.optim_d->save(od);
    root.write("optim_g", og);
    root.write("optim_d", od);
  }
  // LibTorch's zip writer throws from its destructor when a write fails (a
  // full disk aborted the process): it gets a sink that always "succeeds",
  // and the first failed write is reported here once it has finished.
  common::AtomicFile file(path);
  FILE* out = std::fopen(file.temp_path().c_str(), "wb");
  if (!out) throw file_error(path, std::string("cannot write checkpoint: ") + std::strerror(errno));
  int write_errno = 0;
  try {
    root.save_to([&](const void* data, size_t n) -> size_t {
      if (write_errno == 0 && n > 0 && std::fwrite(data, 1, n, out) != n) write_errno = errno ? errno : EIO;
      return n;
    });
  } catch (const c10::Error& e) {
    std::fclose(out);
    throw file_error(path, std::string("cannot write checkpoint: ") + e.what_without_backtrace());
  }
  if (std::fflush(out) != 0 && write_errno == 0) write_errno = errno ? errno : EIO;
  if (std::fclose(out) != 0 && write_errno == 0) write_errno = errno ? errno : EIO;
  if (write_errno != 0) throw file_error(path, std::string("cannot write checkpoint: ") + std::strerror(write_errno));
  file.commit();
}

CheckpointReader::CheckpointReader(const std::string& path, torch::Device device) : path_(path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw file_error(path, "no such checkpoint");
  try {
    archive_.load_from(path, device);
  } catch (const c10::Error& e) {
    throw file_error(path, "not a vocoder checkpoint (cannot read it as a LibTorch archive: corrupt or truncated?)");
  }
  c10::IValue format, config, state;
  if (!archive_.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
    throw file_error(path, "not an acoustok vocoder checkpoint (no 'format' = acoustok-vocoder)");
  c10::IValue version;
  if (!archive_.try_read("version", version) || !version.isInt() || version.toInt() != kVersion)
    throw file_error(path, "unsupported vocoder checkpoint version");
  if (!archive_.try_read("config", config) || !config.isString()) throw file_error(path, "checkpoint has no config");
  config_ = VocoderConfig::from_json(config.toStringRef(), path);
  if (archive_.try_read("state", state) && state.isString()) {
    try {
      state_ = nlohmann::json::parse(state.toStringRef());
    } catch (const nlohmann::json::exception&) {
      throw file_error(path, "checkpoint training state is not JSON");
    }
  }
}

bool CheckpointReader::has_training_state() {
  const auto keys = archive_.keys();
  auto has = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  return has("discriminator") && has("optim_g") && has("optim_d");
}

void CheckpointReader::load(const CheckpointParts& parts) {
  try {
    read_module(path_, archive_, "generator", **parts.generator);
    if (parts.discriminator) read_module(path_, archive_, "discriminator", **parts.discriminator);
    if (parts.optim_g && parts.optim_d) {
      torch::serialize::InputArchive og, od;
      if (!archive_.try_read("optim_g", og) || !archive_.try_read("optim_d", od))
        throw file_error(path_, "checkpoint has no optimiser states (not a training checkpoint)");
      parts.optim_g->load(og);
      parts.optim_d->load(od);
    }
  } catch (const c10::Error& e) {
    throw file_error(path_, std::string("corrupt vocoder checkpoint: ") + e.what_without_backtrace());
  }
}

}  // namespace acoustok::vocoder
