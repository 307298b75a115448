// SPDX-License-Identifier: MIT
// A fairseq wav2vec2 / HuBERT checkpoint (hubert_base_ls960.pt,
// mhubert_base_vp_en_es_fr_it3.pt, xlsr_53_56k.pt) as a feature model: the
// architecture from the checkpoint's own configuration, the weights under the
// names the Hugging Face layout gives them (no LibTorch here).
//
// torch.save's zip of {"cfg": DictConfig, "model": state_dict, ...} (fairseq
// with Hydra) or {"args": Namespace, "model": ...} (older), read by
// TorchZipWeights with its FairseqCheckpoint policy. The architecture is
// read from cfg.model (its _name) or args (its arch); the input
// normalisation from cfg.task.normalize or args.normalize. Other entries
// (optimizer_history, extra_state, last_optimizer_state, criterion) are never
// read, and no tensor of theirs is touched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "features/torch_zip.hpp"
#include "features/wav2vec2_config.hpp"

namespace acoustok::features {

// fairseq's conv_feature_layers, a Python literal such as
// "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2": lists of
// (dim, kernel, stride) tuples joined by + and repeated by * N. Parsed, never
// evaluated; throws acoustok::Error naming `what` on anything else.
std::vector<std::tuple<int64_t, int64_t, int64_t>> parse_conv_feature_layers(const std::string& text,
                                                                             const std::string& what);

// The checkpoint's weights under the Hugging Face names load_wav2vec2_weights
// asks for: "encoder.layers.0.attention.q_proj.weight" reads
// "model.encoder.layers.0.self_attn.q_proj.weight", and errors name the key
// in the file.
class FairseqWeights : public WeightSource {
 public:
  FairseqWeights(std::unique_ptr<TorchZipWeights> file, const Wav2Vec2Config& config,
                 std::string config_name);
  const std::string& path() const override { return file_->path(); }
  std::vector<std::string> names() const override { return file_->names(); }
  bool contains(const std::string& name) const override { return file_->contains(file_key(name)); }
  WeightInfo info(const std::string& name) const override { return file_->info(file_key(name)); }
  std::string file_key(const std::string& name) const override;
  std::string config_name() const override { return config_name_; }

 protected:
  uint64_t read_into(const std::string& name, float* out) override {
    return file_->read_into(file_key(name), out);
  }

 private:
  std::unique_ptr<TorchZipWeights> file_;
  bool conv_layer_norm_;
  std::string config_name_;
};

struct FairseqFeatureModel {
  Wav2Vec2Config config;
  std::unique_ptr<WeightSource> weights;
};

// Throws acoustok::Error naming the file and the key: a pickle global
// outside the policy, an unknown architecture, a missing or bad field.
FairseqFeatureModel open_fairseq_checkpoint(const std::string& path);

}  // namespace acoustok::features
