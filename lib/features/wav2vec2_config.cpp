// SPDX-License-Identifier: MIT
#include "features/wav2vec2_config.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"

namespace acoustok::features {

namespace {

using nlohmann::json;

json parse_json_file(const std::string& path) {
  const std::string text = common::read_text_file(path);
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw file_error(path, "is not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw file_error(path, std::string("is not valid JSON: ") + e.what());
  }
}

// A field that must be present with the expected JSON type, else an error naming it.
const json& field(const json& j, const std::string& key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw file_error(path, "missing field '" + key + "'");
  return *it;
}

int64_t positive_int(const json& j, const std::string& key, const std::string& path, int64_t fallback = -1) {
  if (fallback > 0 && (!j.contains(key) || j[key].is_null())) return fallback;
  const json& v = field(j, key, path);
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (int64_t{1} << 20)) {
    throw file_error(path, "field '" + key + "' must be a positive integer");
  }
  return v.get<int64_t>();
}

bool boolean(const json& j, const std::string& key, const std::string& path, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw file_error(path, "field '" + key + "' must be true or false");
  return j[key].get<bool>();
}

std::vector<int64_t> int_list(const json& j, const std::string& key, const std::string& path) {
  const json& v = field(j, key, path);
  if (!v.is_array() || v.empty() || v.size() > 64)
    throw file_error(path, "field '" + key + "' must be a non-empty list");
  std::vector<int64_t> out;
  for (const auto& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() <= 0 || x.get<int64_t>() > 100000) {
      throw file_error(path, "field '" + key + "' must hold positive integers");
    }
    out.push_back(x.get<int64_t>());
  }
  return out;
}

}  // namespace

int64_t Wav2Vec2Config::receptive_field() const {
  int64_t field = 1;
  for (size_t i = conv_kernel.size(); i-- > 0;) field = (field - 1) * conv_stride[i] + conv_kernel[i];
  return field;
}

int64_t Wav2Vec2Config::hop() const {
  int64_t h = 1;
  for (int64_t s : conv_stride) h *= s;
  return h;
}

int64_t Wav2Vec2Config::frames_for(int64_t samples) const {
  int64_t n = samples;
  for (size_t i = 0; i < conv_kernel.size(); ++i) {
    if (n < conv_kernel[i]) return 0;
    n = (n - conv_kernel[i]) / conv_stride[i] + 1;
  }
  return n;
}

namespace {

Wav2Vec2Config parse_wav2vec2_config(const std::string& model_dir, const std::string& path, const json& j) {
  namespace fs = std::filesystem;
  std::error_code ec;

  Wav2Vec2Config c;
  const json type =
      field(j, "model_type", path);  // a copy: GCC 14 takes the key's temporary for what the reference binds
  if (!type.is_string()) throw file_error(path, "field 'model_type' must be a string");
  c.model_type = type.get<std::string>();
  if (c.model_type != "wav2vec2" && c.model_type != "hubert") {
    throw file_error(path, "unknown model_type '" + c.model_type + "' (expected wav2vec2 or hubert)");
  }
  if (j.contains("feat_extract_norm") && !j["feat_extract_norm"].is_string())
    throw file_error(path, "field 'feat_extract_norm' must be a string");
  const std::string norm = j.value("feat_extract_norm", std::string("group"));
  if (norm != "group" && norm != "layer") {
    throw file_error(path, "field 'feat_extract_norm' must be \"group\" or \"layer\", not \"" + norm + "\"");
  }
  c.feat_extract_layer_norm = norm == "layer";
  c.conv_dim = int_list(j, "conv_dim", path);
  c.conv_kernel = int_list(j, "conv_kernel", path);
  c.conv_stride = int_list(j, "conv_stride", path);
  if (c.conv_kernel.size() != c.conv_dim.size() || c.conv_stride.size() != c.conv_dim.size()) {
    throw file_error(path, "fields 'conv_dim', 'conv_kernel' and 'conv_stride' differ in length");
  }
  c.conv_bias = boolean(j, "conv_bias", path, false);
  c.hidden_size = positive_int(j, "hidden_size", path);
  c.num_hidden_layers = positive_int(j, "num_hidden_layers", path);
  c.num_attention_heads = positive_int(j, "num_attention_heads", path);
  c.intermediate_size = positive_int(j, "intermediate_size", path);
  c.num_conv_pos_embeddings = positive_int(j, "num_conv_pos_embeddings", path, 128);
  c.num_conv_pos_embedding_groups = positive_int(j, "num_conv_pos_embedding_groups", path, 16);
  c.do_stable_layer_norm = boolean(j, "do_stable_layer_norm", path, false);
  c.feat_proj_layer_norm = c.model_type == "hubert" ? boolean(j, "feat_proj_layer_norm", path, true) : true;
  c.conv_pos_batch_norm = c.model_type == "hubert" && boolean(j, "conv_pos_batch_norm", path, false);
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number() || !(j["layer_norm_eps"].get<double>() > 0)) {
      throw file_error(path, "field 'layer_norm_eps' must be a positive number");
    }
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  for (const char* act : {"hidden_act", "feat_extract_activation"}) {
    if (j.contains(act) && j[act] != "gelu")
      throw file_error(path, std::string("field '") + act + "' must be \"gelu\"");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw file_error(path, "'hidden_size' is not a multiple of 'num_attention_heads'");
  }
  if (c.hidden_size % c.num_conv_pos_embedding_groups != 0) {
    throw file_error(path, "'hidden_size' is not a multiple of 'num_conv_pos_embedding_groups'");
  }

  const std::string pre = (fs::path(model_dir) / "preprocessor_config.json").string();
  if (fs::exists(pre, ec)) c.do_normalize = boolean(parse_json_file(pre), "do_normalize", pre, true);
  return c;
}

}  // namespace

Wav2Vec2Config read_wav2vec2_config(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(model_dir) / "config.json").string();
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) throw file_error(model_dir, "is not a model folder");
  if (!fs::exists(path, ec)) throw file_error(path, "missing: a Hugging Face model folder needs config.json");
  const json j = parse_json_file(path);
  try {
    return parse_wav2vec2_config(model_dir, path, j);
  } catch (const json::exception& e) {  // a field of an unexpected type that no check above named
    throw file_error(path, std::string("bad config: ") + e.what());
  }
}

}  // namespace acoustok::features
