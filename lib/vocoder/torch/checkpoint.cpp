// SPDX-License-Identifier: MIT
#include "vocoder/torch/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "common/torch/libtorch_compat.hpp"
#include "features/torch_zip.hpp"

namespace acoustok::vocoder {
namespace {

constexpr const char* kFormat = "acoustok-vocoder";
constexpr int64_t kVersion = 2;

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

// A dict as torch.save writes one: string keys, any values.
c10::impl::GenericDict new_dict() {
  return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
}

torch::Tensor to_saved(const torch::Tensor& t) { return t.detach().to(torch::kCPU).contiguous(); }

// What Python's torch.save writes for a dict of strings, integers, tensors
// and dicts. torch::pickle_save would tag every dict with
// torch.jit._pickle.restore_type_tag, a global that PyTorch 2.6's
// torch.load(weights_only=True) refuses: these dicts go untagged.
std::vector<char> torch_save_bytes(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.insert(pickle.end(), p, p + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

c10::impl::GenericDict module_dict(torch::nn::Module& m) {
  auto d = new_dict();
  for (const auto& [name, t] : named_tensors(m)) d.insert(name, to_saved(t));
  return d;
}

// LibTorch keys an optimiser's per-parameter state by the parameter's
// TensorImpl address; the file keys it by the parameter's name.
auto state_key(const torch::Tensor& p) { return torch_compat::optimizer_state_key(p); }

c10::impl::GenericDict optimizer_dict(torch::optim::AdamW& opt, torch::nn::Module& m) {
  auto d = new_dict();
  auto& states = opt.state();
  for (const auto& p : m.named_parameters(true)) {
    auto it = states.find(state_key(p.value()));
    if (it == states.end()) continue;  // not stepped yet
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    d.insert(p.key() + ".exp_avg", to_saved(s.exp_avg()));
    d.insert(p.key() + ".exp_avg_sq", to_saved(s.exp_avg_sq()));
    d.insert(p.key() + ".step", s.step());
  }
  return d;
}

torch::Tensor read_tensor(features::TorchZipWeights& f, const std::string& name,
                          torch::IntArrayRef expected_shape) {
  const auto info = f.info(name);
  if (!std::equal(info.shape.begin(), info.shape.end(), expected_shape.begin(), expected_shape.end()))
    throw file_error(f.path(), "tensor '" + name + "' has shape " + c10::str(c10::IntArrayRef(info.shape)) +
                                   ", the config needs " + c10::str(expected_shape));
  std::vector<float> values = f.read_float32(name);  // converts half/bfloat16/double; refuses integers
  for (float v : values)
    if (!std::isfinite(v)) throw file_error(f.path(), "tensor '" + name + "' holds NaN or Inf");
  return torch::from_blob(values.data(), expected_shape, torch::kFloat32).clone();
}

void read_module(features::TorchZipWeights& f, const std::string& key, torch::nn::Module& m) {
  const std::string prefix = key + ".";
  const auto expected = named_tensors(m);
  std::set<std::string> wanted;
  for (const auto& e : expected) wanted.insert(prefix + e.first);
  bool any = false;
  for (const auto& n : f.names()) {
    if (n.compare(0, prefix.size(), prefix) != 0) continue;
    any = true;
    if (!wanted.count(n))
      throw file_error(f.path(), "unexpected tensor '" + n + "' (another model layout or config?)");
  }
  if (!any) throw file_error(f.path(), "vocoder checkpoint has no '" + key + "' weights");
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : expected) {
    if (!f.contains(prefix + name)) throw file_error(f.path(), "missing tensor '" + prefix + name + "'");
    target.copy_(read_tensor(f, prefix + name, target.sizes()));
  }
}

void read_optimizer(features::TorchZipWeights& f, const std::string& key, torch::optim::AdamW& opt,
                    torch::nn::Module& m) {
  auto& states = opt.state();
  states.clear();
  for (const auto& p : m.named_parameters(true)) {
    const std::string base = key + "." + p.key();
    const auto step = f.integers().find(base + ".step");
    if (step == f.integers().end()) continue;  // not stepped yet
    if (step->second < 0) throw file_error(f.path(), "'" + base + ".step' is negative");
    if (!f.contains(base + ".exp_avg") || !f.contains(base + ".exp_avg_sq"))
      throw file_error(f.path(), "optimiser state of '" + p.key() + "' is incomplete");
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(step->second);
    s->exp_avg(read_tensor(f, base + ".exp_avg", p.value().sizes()).to(p.value().device()));
    s->exp_avg_sq(read_tensor(f, base + ".exp_avg_sq", p.value().sizes()).to(p.value().device()));
    states[state_key(p.value())] = std::move(s);
  }
}

}  // namespace

torch::Device resolve_device(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw Error("device " + name + ": this LibTorch has no usable CUDA device");
    return torch::Device(name);
  }
  throw Error("device " + name + ": expected auto, cpu or cuda[:N]");
}

void write_checkpoint(const std::string& path, const VocoderConfig& config, const nlohmann::json& state,
                      const CheckpointParts& parts) {
  auto root = new_dict();
  root.insert("format", std::string(kFormat));
  root.insert("version", kVersion);
  root.insert("config", config.to_json());
  root.insert("state", state.dump());
  root.insert("generator", module_dict(**parts.generator));
  if (parts.discriminator) root.insert("discriminator", module_dict(**parts.discriminator));
  if (parts.optim_g && parts.optim_d && parts.discriminator) {
    root.insert("optim_g", optimizer_dict(*parts.optim_g, **parts.generator));
    root.insert("optim_d", optimizer_dict(*parts.optim_d, **parts.discriminator));
  }
  std::vector<char> bytes;
  try {
    bytes = torch_save_bytes(c10::IValue(root));
  } catch (const c10::Error& e) {
    throw file_error(path, std::string("cannot write checkpoint: ") + e.what_without_backtrace());
  }
  common::AtomicFile file(path);
  FILE* out = std::fopen(file.temp_path().c_str(), "wb");
  if (!out) throw file_error(path, std::string("cannot write checkpoint: ") + std::strerror(errno));
  int write_errno = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size()) write_errno = errno ? errno : EIO;
  if (std::fflush(out) != 0 && write_errno == 0) write_errno = errno ? errno : EIO;
  if (std::fclose(out) != 0 && write_errno == 0) write_errno = errno ? errno : EIO;
  if (write_errno != 0)
    throw file_error(path, std::string("cannot write checkpoint: ") + std::strerror(write_errno));
  file.commit();
}

CheckpointReader::CheckpointReader(const std::string& path, const std::string& released_config)
    : path_(path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw file_error(path, "no such checkpoint");
  try {
    file_ = std::make_unique<features::TorchZipWeights>(path);
  } catch (const Error& e) {
    std::string why = e.what();
    if (why.rfind(path + ": ", 0) == 0) why = why.substr(path.size() + 2);
    if (why.find("TorchScript archive") != std::string::npos)
      throw file_error(
          path,
          why + " (acoustok's first vocoder checkpoints, format version 1, were such archives: train again)");
    throw file_error(path, "not a vocoder checkpoint: " + why);
  }
  const auto& strings = file_->strings();
  const auto format = strings.find("format");
  if (format != strings.end() && format->second == kFormat) {
    const auto version = file_->integers().find("version");
    if (version == file_->integers().end() || version->second != kVersion)
      throw file_error(path, "unsupported acoustok vocoder checkpoint version");
    const auto config = strings.find("config");
    if (config == strings.end()) throw file_error(path, "checkpoint has no config");
    config_ = VocoderConfig::from_json(config->second, path);
    const auto state = strings.find("state");
    if (state != strings.end()) {
      try {
        state_ = nlohmann::json::parse(state->second);
      } catch (const nlohmann::json::exception&) {
        throw file_error(path, "checkpoint training state is not JSON");
      }
    }
    return;
  }
  if (format != strings.end())
    throw file_error(path, "not a vocoder checkpoint (format '" + format->second + "')");
  // A released speech-resynthesis / fairseq generator: {"generator": state_dict} + config.json.
  bool has_generator = false;
  for (const auto& n : file_->names()) has_generator = has_generator || n.rfind("generator.", 0) == 0;
  if (!has_generator)
    throw file_error(
        path,
        "not a vocoder checkpoint: neither an acoustok checkpoint nor a dict with a 'generator' state dict");
  const std::string config_path = released_config.empty()
                                      ? (std::filesystem::path(path).parent_path() / "config.json").string()
                                      : released_config;
  if (!std::filesystem::is_regular_file(config_path, ec))
    throw file_error(path, "a released unit vocoder needs its config.json (none at " + config_path +
                               "; give it with --vocoder-config)");
  config_ = VocoderConfig::from_released_json(common::read_text_file(config_path), config_path);
  // The config names the vocabulary; the embedding must agree with it.
  if (file_->contains("generator.dict.weight")) {
    const auto shape = file_->info("generator.dict.weight").shape;
    if (shape.size() != 2 || shape[0] != config_.num_units)
      throw file_error(path, "its unit embedding has shape " + c10::str(c10::IntArrayRef(shape)) + " but " +
                                 config_path + " says num_embeddings " + std::to_string(config_.num_units));
  }
  released_ = true;
}

CheckpointReader::~CheckpointReader() = default;

bool CheckpointReader::has_training_state() const {
  bool d = false, og = false, od = false;
  for (const auto& n : file_->names()) {
    d = d || n.rfind("discriminator.", 0) == 0;
    og = og || n.rfind("optim_g.", 0) == 0;
    od = od || n.rfind("optim_d.", 0) == 0;
  }
  return !released_ && d && og && od;
}

void CheckpointReader::load(const CheckpointParts& parts) {
  try {
    read_module(*file_, "generator", **parts.generator);
    if (parts.discriminator) read_module(*file_, "discriminator", **parts.discriminator);
    if (parts.optim_g && parts.optim_d) {
      if (!has_training_state())
        throw file_error(path_, "checkpoint has no optimiser states (not a training checkpoint)");
      read_optimizer(*file_, "optim_g", *parts.optim_g, **parts.generator);
      read_optimizer(*file_, "optim_d", *parts.optim_d, **parts.discriminator);
    }
  } catch (const c10::Error& e) {
    throw file_error(path_, std::string("corrupt vocoder checkpoint: ") + e.what_without_backtrace());
  }
}

}  // namespace acoustok::vocoder
