// SPDX-License-Identifier: MIT
#include "features/fairseq_checkpoint.hpp"

#include <cctype>
#include <utility>

#include "acoustok/error.hpp"

namespace acoustok::features {

// ---- conv_feature_layers: a tiny grammar, never eval ----------------------

namespace {

class ConvLayersParser {
 public:
  ConvLayersParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  // expr := term ('+' term)* ; term := list ('*' int)* ;
  // list := '[' tuple (',' tuple)* [','] ']' ; tuple := '(' int ',' int ',' int [','] ')'
  std::vector<std::tuple<int64_t, int64_t, int64_t>> parse() {
    std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
    do {
      std::vector<std::tuple<int64_t, int64_t, int64_t>> term = list();
      while (eat('*')) {
        const int64_t n = integer();
        if (term.size() * static_cast<size_t>(n) > kMaxLayers) fail("more than 64 layers");
        std::vector<std::tuple<int64_t, int64_t, int64_t>> rep;
        for (int64_t k = 0; k < n; ++k) rep.insert(rep.end(), term.begin(), term.end());
        term = std::move(rep);
      }
      out.insert(out.end(), term.begin(), term.end());
      if (out.size() > kMaxLayers) fail("more than 64 layers");
    } while (eat('+'));
    skip_space();
    if (pos_ != s_.size()) fail("unexpected '" + std::string(1, s_[pos_]) + "'");
    if (out.empty()) fail("no layers");
    return out;
  }

 private:
  static constexpr size_t kMaxLayers = 64;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(what_ + " \"" + s_ + "\" is not a list of (dim, kernel, stride) tuples: " + why +
                " at character " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  int64_t integer() {
    skip_space();
    int64_t v = 0;
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) && pos_ - start < 7)
      v = v * 10 + (s_[pos_++] - '0');
    if (pos_ == start) fail("expected an integer");
    if (v <= 0 || v > 100000) fail("integer out of range");
    return v;
  }
  std::vector<std::tuple<int64_t, int64_t, int64_t>> list() {
    expect('[');
    std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
    while (!eat(']')) {
      expect('(');
      const int64_t dim = integer();
      expect(',');
      const int64_t kernel = integer();
      expect(',');
      const int64_t stride = integer();
      eat(',');
      expect(')');
      out.emplace_back(dim, kernel, stride);
      if (out.size() > kMaxLayers) fail("more than 64 layers");
      if (!eat(',')) {
        expect(']');
        break;
      }
    }
    return out;
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<std::tuple<int64_t, int64_t, int64_t>> parse_conv_feature_layers(const std::string& text,
                                                                             const std::string& what) {
  return ConvLayersParser(text, what).parse();
}

// ---- weights under Hugging Face names --------------------------------------

FairseqWeights::FairseqWeights(std::unique_ptr<TorchZipWeights> file, const Wav2Vec2Config& config,
                               std::string config_name)
    : file_(std::move(file)),
      conv_layer_norm_(config.feat_extract_layer_norm),
      config_name_(std::move(config_name)) {}

namespace {

bool starts(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// "encoder.layers.12.rest" -> ("encoder.layers.12.", "rest"); false when
// `name` does not start with `prefix` followed by a number and a dot.
bool split_index(const std::string& name, const std::string& prefix, std::string& head, std::string& rest) {
  if (!starts(name, prefix)) return false;
  size_t k = prefix.size();
  while (k < name.size() && std::isdigit(static_cast<unsigned char>(name[k]))) ++k;
  if (k == prefix.size() || k >= name.size() || name[k] != '.') return false;
  head = name.substr(0, k + 1);
  rest = name.substr(k + 1);
  return true;
}

}  // namespace

// fairseq's modules (wav2vec2.py, hubert.py): each conv layer an
// nn.Sequential(conv, dropout, norm, GELU) whose layer norm sits inside
// Sequential(TransposeLast, Fp32LayerNorm, TransposeLast); the positional
// conv Sequential(weight-normed conv, SamePad, GELU); blocks with self_attn,
// self_attn_layer_norm, fc1, fc2, final_layer_norm.
std::string FairseqWeights::file_key(const std::string& name) const {
  std::string head, rest;
  std::string key = name;
  if (split_index(name, "feature_extractor.conv_layers.", head, rest)) {
    if (starts(rest, "conv."))
      key = head + "0." + rest.substr(5);
    else if (starts(rest, "layer_norm."))
      key = head + (conv_layer_norm_ ? "2.1." : "2.") + rest.substr(11);
  } else if (starts(name, "feature_projection.layer_norm.")) {
    key = "layer_norm." + name.substr(30);
  } else if (starts(name, "feature_projection.projection.")) {
    key = "post_extract_proj." + name.substr(30);
  } else if (starts(name, "encoder.pos_conv_embed.conv.")) {
    key = "encoder.pos_conv.0." + name.substr(28);
  } else if (split_index(name, "encoder.layers.", head, rest)) {
    static const std::pair<const char*, const char*> renames[] = {
        {"attention.", "self_attn."},
        {"layer_norm.", "self_attn_layer_norm."},
        {"feed_forward.intermediate_dense.", "fc1."},
        {"feed_forward.output_dense.", "fc2."}};
    for (const auto& [from, to] : renames) {
      if (starts(rest, from)) {
        key = head + to + rest.substr(std::string(from).size());
        break;
      }
    }
  }
  return "model." + key;
}

// ---- the configuration -----------------------------------------------------

namespace {

// Fields of cfg.model or args, by name; absent ones take fairseq's defaults
// (Wav2Vec2Config / HubertConfig), as fairseq fills them.
class Fields {
 public:
  Fields(const TorchZipWeights& f, std::string base) : f_(f), base_(std::move(base)) {}

  bool has(const std::string& key) const {
    return f_.strings().count(base_ + key) || f_.integers().count(base_ + key);
  }
  std::string str(const std::string& key, const std::string& fallback) const {
    auto it = f_.strings().find(base_ + key);
    if (it != f_.strings().end()) return it->second;
    if (f_.integers().count(base_ + key)) bad(key, "must be a string");
    return fallback;
  }
  int64_t positive(const std::string& key, int64_t fallback) const {
    auto it = f_.integers().find(base_ + key);
    if (it == f_.integers().end()) {
      if (f_.strings().count(base_ + key)) bad(key, "must be an integer");
      return fallback;
    }
    if (it->second <= 0 || it->second > (int64_t{1} << 20)) bad(key, "must be a positive integer");
    return it->second;
  }
  bool flag(const std::string& key, bool fallback) const {
    auto it = f_.integers().find(base_ + key);
    if (it == f_.integers().end()) {
      if (f_.strings().count(base_ + key)) bad(key, "must be true or false");
      return fallback;
    }
    return it->second != 0;
  }
  [[noreturn]] void bad(const std::string& key, const std::string& why) const {
    throw file_error(f_.path(), "'" + base_ + key + "' " + why);
  }
  const std::string& base() const { return base_; }

 private:
  const TorchZipWeights& f_;
  std::string base_;
};

Wav2Vec2Config fairseq_config(const TorchZipWeights& f, std::string& config_name) {
  // Hydra-era checkpoints: cfg.model._name; older ones: args.arch (and some
  // Hydra ones keep the old Namespace as cfg.model, with its arch).
  std::string base, task_base, arch;
  for (const char* b : {"cfg.model.", "args."}) {
    for (const char* name : {"_name", "arch"}) {
      auto it = f.strings().find(std::string(b) + name);
      if (it != f.strings().end() && base.empty()) {
        base = b;
        arch = it->second;
      }
    }
  }
  if (base.empty()) {
    throw file_error(f.path(),
                     "not a fairseq checkpoint: no 'cfg.model._name' nor 'args.arch' names its architecture");
  }
  task_base = base == "args." ? "args." : "cfg.task.";
  config_name = base == "args." ? "its args" : "its cfg.model";
  const Fields m(f, base);
  const std::string name_key = base + (f.strings().count(base + "_name") ? "_name" : "arch");
  if (arch != "wav2vec2" && arch != "hubert") {
    throw file_error(
        f.path(), "'" + name_key + "' is '" + arch +
                      "': only the pre-trained wav2vec2 and hubert models are feature models (a fine-tuned "
                      "*_ctc checkpoint is not)");
  }
  Wav2Vec2Config c;
  c.model_type = arch;
  const std::string mode = m.str("extractor_mode", "default");
  if (mode != "default" && mode != "layer_norm")
    m.bad("extractor_mode", "is '" + mode + "', not default or layer_norm");
  c.feat_extract_layer_norm = mode == "layer_norm";
  const std::string layers =
      m.str("conv_feature_layers", "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]");
  try {
    for (const auto& [dim, kernel, stride] :
         parse_conv_feature_layers(layers, "'" + base + "conv_feature_layers'")) {
      c.conv_dim.push_back(dim);
      c.conv_kernel.push_back(kernel);
      c.conv_stride.push_back(stride);
    }
  } catch (const Error& e) {
    throw file_error(f.path(), e.what());
  }
  c.conv_bias = m.flag("conv_bias", false);
  c.hidden_size = m.positive("encoder_embed_dim", 768);
  c.num_hidden_layers = m.positive("encoder_layers", 12);
  c.num_attention_heads = m.positive("encoder_attention_heads", 12);
  c.intermediate_size = m.positive("encoder_ffn_embed_dim", 3072);
  c.num_conv_pos_embeddings = m.positive("conv_pos", 128);
  c.num_conv_pos_embedding_groups = m.positive("conv_pos_groups", 16);
  c.do_stable_layer_norm = m.flag("layer_norm_first", false);
  c.feat_proj_layer_norm = true;  // fairseq's layer_norm over the conv features is always there
  c.layer_norm_eps = 1e-5;
  const std::string act = m.str("activation_fn", "gelu");
  if (act != "gelu") m.bad("activation_fn", "is '" + act + "': only gelu is supported");
  const std::string layer_type = m.str("layer_type", "transformer");
  if (layer_type != "transformer")
    m.bad("layer_type", "is '" + layer_type + "': only transformer blocks are supported");
  if (m.positive("pos_conv_depth", 1) != 1)
    m.bad("pos_conv_depth", "is not 1: only one positional conv is supported");
  if (c.hidden_size % c.num_attention_heads != 0)
    m.bad("encoder_embed_dim", "is not a multiple of encoder_attention_heads");
  if (c.hidden_size % c.num_conv_pos_embedding_groups != 0)
    m.bad("encoder_embed_dim", "is not a multiple of conv_pos_groups");
  c.do_normalize = Fields(f, task_base).flag("normalize", false);
  return c;
}

}  // namespace

FairseqFeatureModel open_fairseq_checkpoint(const std::string& path) {
  auto file = std::make_unique<TorchZipWeights>(path, TorchZipWeights::Contents::FairseqCheckpoint);
  FairseqFeatureModel out;
  std::string config_name;
  out.config = fairseq_config(*file, config_name);
  out.weights = std::make_unique<FairseqWeights>(std::move(file), out.config, config_name);
  return out;
}

}  // namespace acoustok::features
