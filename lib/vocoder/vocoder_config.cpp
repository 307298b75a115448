// SPDX-License-Identifier: MIT
#include "acoustok/vocoder_config.hpp"
#include "acoustok/frame_grid.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"

using nlohmann::json;

namespace acoustok {

VocoderConfig VocoderConfig::preset(const std::string& name) {
  VocoderConfig c;
  if (name == "v1") return c;
  if (name == "small") {
    c.name = "small";
    c.upsample_initial_channel = 256;
    c.mpd_channels = {16, 64, 256, 512, 512};
    c.msd_channels = {64, 64, 128, 256, 512, 512, 512};
    return c;
  }
  if (name == "tiny") {
    // Seconds per epoch on 2 CPU cores: for tests and smoke runs.
    c.name = "tiny";
    c.embedding_dim = 32;
    c.upsample_initial_channel = 64;
    c.resblock_kernel_sizes = {3, 7};
    c.resblock_dilation_sizes = {{1, 3}, {1, 3}};
    c.mpd_channels = {4, 8, 16, 32, 32};
    c.msd_channels = {8, 8, 16, 32, 32, 32, 32};
    c.msd_groups = {1, 2, 4, 4, 4, 4, 1};
    c.segment_frames = 16;  // 0.32 s windows: the discriminators dominate a CPU step
    return c;
  }
  throw Error("--config: unknown vocoder config '" + name + "' (tiny, small, v1 or a .json file)");
}

namespace {

// Integers must be JSON integers within int's range: nlohmann's get<int>()
// of 1e20 is undefined behaviour, of 4294967297 a silent wrap.
int json_int(const json& v, const char* key) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT32_MAX}) ||
      v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
    throw std::invalid_argument(std::string("'") + key + "' must hold integers, not " + v.dump());
  }
  return static_cast<int>(v.get<int64_t>());
}
void read(const json& v, const char* key, int& out) { out = json_int(v, key); }
void read(const json& v, const char*, std::string& out) { out = v.get<std::string>(); }
void read(const json& v, const char* key, bool& out) {
  if (!v.is_boolean()) throw std::invalid_argument(std::string("'") + key + "' must be true or false");
  out = v.get<bool>();
}
template <typename T>
void read(const json& v, const char* key, std::vector<T>& out) {
  if (!v.is_array()) throw std::invalid_argument(std::string("'") + key + "' must be a list");
  out.assign(v.size(), T{});
  for (size_t i = 0; i < v.size(); ++i) read(v[i], key, out[i]);
}

template <typename T>
void take(const json& j, const char* key, T& field) {
  if (j.contains(key)) read(j.at(key), key, field);
}

}  // namespace

namespace {

// Parses a config JSON object into `c` with `fill(j, c)`; a wrong type or
// value becomes one Error naming `where`; the result is validated.
template <typename Fill>
VocoderConfig parse_config(const std::string& text, const std::string& where, VocoderConfig c, Fill fill) {
  try {
    const json j = json::parse(text);
    if (!j.is_object()) throw Error(where + ": vocoder config is not a JSON object");
    fill(j, c);
  } catch (const json::exception& e) {
    throw Error(where + ": bad vocoder config: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw Error(where + ": bad vocoder config: " + e.what());
  }
  c.validate(where);
  return c;
}

}  // namespace

VocoderConfig VocoderConfig::from_json(const std::string& text, const std::string& where) {
  return parse_config(text, where, VocoderConfig(), [&](const json& j, VocoderConfig& c) {
    if (j.contains("base")) c = preset(j.at("base").get<std::string>());
    take(j, "name", c.name);
    take(j, "num_units", c.num_units);
    take(j, "embedding_dim", c.embedding_dim);
    take(j, "padding_row", c.padding_row);
    take(j, "upsample_rates", c.upsample_rates);
    take(j, "upsample_kernel_sizes", c.upsample_kernel_sizes);
    take(j, "upsample_initial_channel", c.upsample_initial_channel);
    take(j, "resblock_kernel_sizes", c.resblock_kernel_sizes);
    take(j, "resblock_dilation_sizes", c.resblock_dilation_sizes);
    take(j, "mpd_periods", c.mpd_periods);
    take(j, "mpd_channels", c.mpd_channels);
    take(j, "msd_scales", c.msd_scales);
    take(j, "msd_channels", c.msd_channels);
    take(j, "msd_groups", c.msd_groups);
    take(j, "segment_frames", c.segment_frames);
    take(j, "num_speakers", c.num_speakers);
    take(j, "speaker_embedding_dim", c.speaker_embedding_dim);
    take(j, "dur_predictor_hidden", c.dur_predictor_hidden);
    take(j, "dur_predictor_kernel", c.dur_predictor_kernel);
  });
}

namespace {

// fairseq codehifigan.py's defaults.
constexpr int kFairseqSpeakers = 200, kFairseqEmbedderDim = 256;

// multispkr / embedder_params / dur_predictor_params of a released config
// (fairseq codehifigan.py CodeGenerator: a speaker is used when multispkr is
// set; embedder_params makes it a Linear from embedder_dim, else a table).
template <typename On>
void read_conditioning(const json& j, VocoderConfig& c, const On& on, const std::string& where) {
  take(j, "embedding_dim", c.embedding_dim);
  if (on("multispkr")) {
    if (on("embedder_params")) {
      c.speaker_embedding_dim = kFairseqEmbedderDim;
      take(j, "embedder_dim", c.speaker_embedding_dim);
      if (c.speaker_embedding_dim < 1) throw Error(where + ": 'embedder_dim' must be at least 1");
    } else {
      c.num_speakers = kFairseqSpeakers;
      take(j, "num_speakers", c.num_speakers);
      if (c.num_speakers < 1) throw Error(where + ": 'num_speakers' must be at least 1 with 'multispkr'");
    }
  } else if (on("embedder_params")) {
    throw Error(where + ": 'embedder_params' without 'multispkr': its speaker embedder would be unused");
  }
  if (!on("dur_predictor_params")) return;
  const json& d = j.at("dur_predictor_params");
  if (!d.is_object()) throw Error(where + ": 'dur_predictor_params' must be an object");
  const auto field = [&](const char* key) {
    if (!d.contains(key)) throw Error(where + ": 'dur_predictor_params' has no '" + key + "'");
    int v = 0;
    read(d.at(key), key, v);
    return v;
  };
  if (field("encoder_embed_dim") != c.embedding_dim)
    throw Error(where + ": 'dur_predictor_params.encoder_embed_dim' must equal embedding_dim " +
                std::to_string(c.embedding_dim) + " (the predictor reads the unit embedding)");
  c.dur_predictor_hidden = field("var_pred_hidden_dim");
  if (c.dur_predictor_hidden < 1)
    throw Error(where + ": 'dur_predictor_params.var_pred_hidden_dim' must be at least 1");
  c.dur_predictor_kernel = field("var_pred_kernel_size");
}

}  // namespace

VocoderConfig VocoderConfig::from_released_json(const std::string& text, const std::string& where) {
  VocoderConfig c = preset("v1");
  c.name = "released";
  c.padding_row = false;
  return parse_config(text, where, c, [&](const json& j, VocoderConfig& c) {
    const auto on = [&](const char* key) {
      if (!j.contains(key)) return false;
      const json& v = j.at(key);
      // Python's truth value, as fairseq tests these keys.
      return !(v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v.get<double>() == 0) ||
               (v.is_string() && v.get<std::string>().empty()) ||
               ((v.is_object() || v.is_array()) && v.empty()));
    };
    // Inputs acoustok's generator does not have.
    for (const char* key :
         {"f0", "f0_vq_params", "f0_quantizer", "f0_quantizer_path", "f0_feats", "f0_quant_num_bin"}) {
      if (on(key))
        throw Error(
            where + ": this vocoder uses '" + key +
            "' (F0 conditioning), which needs speech-resynthesis' F0 quantiser: acoustok cannot run it");
    }
    for (const char* key : {"lang_embedding", "spkr_embedding", "speaker_embedding"}) {
      if (on(key))
        throw Error(where + ": this vocoder uses '" + std::string(key) + "', an input acoustok cannot run");
    }
    read_conditioning(j, c, on, where);
    if (j.contains("resblock") && j.at("resblock") != "1" && j.at("resblock") != 1)
      throw Error(where + ": resblock type " + j.at("resblock").dump() + " is not supported (only type 1)");
    if (j.contains("sampling_rate") && j.at("sampling_rate") != grid::kSampleRate)
      throw Error(where + ": sampling_rate " + j.at("sampling_rate").dump() + " is not supported (" +
                  std::to_string(grid::kSampleRate) + " only)");
    take(j, "num_embeddings", c.num_units);
    take(j, "embedding_dim", c.embedding_dim);
    take(j, "upsample_rates", c.upsample_rates);
    take(j, "upsample_kernel_sizes", c.upsample_kernel_sizes);
    take(j, "upsample_initial_channel", c.upsample_initial_channel);
    take(j, "resblock_kernel_sizes", c.resblock_kernel_sizes);
    take(j, "resblock_dilation_sizes", c.resblock_dilation_sizes);
    if (j.contains("model_in_dim")) {
      int in_dim = 0;
      read(j.at("model_in_dim"), "model_in_dim", in_dim);
      if (in_dim != c.model_in_dim())
        throw Error(where + ": 'model_in_dim' is " + std::to_string(in_dim) + " but the unit embedding" +
                    (c.has_speaker_table() || c.has_speaker_embedder() ? " and the speaker's" : "") +
                    " make " + std::to_string(c.model_in_dim()) + " channels");
    }
    if (j.contains("code_hop_size") && j.at("code_hop_size") != c.hop_samples())
      throw Error(where + ": code_hop_size " + j.at("code_hop_size").dump() +
                  " is not the upsampling product " + std::to_string(c.hop_samples()));
  });
}

VocoderConfig VocoderConfig::from_argument(const std::string& name_or_file) {
  if (name_or_file == "tiny" || name_or_file == "small" || name_or_file == "v1") return preset(name_or_file);
  std::error_code ec;
  if (!std::filesystem::exists(name_or_file, ec)) {
    throw Error("--config: unknown vocoder config '" + name_or_file +
                "': expected tiny, small, v1 or a JSON file");
  }
  return from_json(common::read_text_file(name_or_file), name_or_file);
}

std::string VocoderConfig::to_json() const {
  json j = {{"name", name},
            {"num_units", num_units},
            {"embedding_dim", embedding_dim},
            {"padding_row", padding_row},
            {"upsample_rates", upsample_rates},
            {"upsample_kernel_sizes", upsample_kernel_sizes},
            {"upsample_initial_channel", upsample_initial_channel},
            {"resblock_kernel_sizes", resblock_kernel_sizes},
            {"resblock_dilation_sizes", resblock_dilation_sizes},
            {"mpd_periods", mpd_periods},
            {"mpd_channels", mpd_channels},
            {"msd_scales", msd_scales},
            {"msd_channels", msd_channels},
            {"msd_groups", msd_groups},
            {"segment_frames", segment_frames}};
  // Only when set: acoustok's own (unit-only) checkpoints keep their bytes.
  if (num_speakers > 0) j["num_speakers"] = num_speakers;
  if (speaker_embedding_dim > 0) j["speaker_embedding_dim"] = speaker_embedding_dim;
  if (dur_predictor_hidden > 0) {
    j["dur_predictor_hidden"] = dur_predictor_hidden;
    j["dur_predictor_kernel"] = dur_predictor_kernel;
  }
  return j.dump();
}

int VocoderConfig::hop_samples() const {
  // Rates come from untrusted files: a rate below 1 makes no hop, and the
  // product saturates instead of overflowing (validate() names both).
  int64_t hop = 1;
  for (int r : upsample_rates) {
    if (r < 1) return 0;
    hop = std::min<int64_t>(hop * r, std::numeric_limits<int>::max());
  }
  return static_cast<int>(hop);
}

void VocoderConfig::validate(const std::string& where) const {
  auto fail = [&](const std::string& why) { throw Error(where + ": bad vocoder config: " + why); };
  if (num_units < 1 || num_units > 65535) fail("num_units must be in 1..65535");
  // Bounds far above any HiFi-GAN, so that sizes from an untrusted file can
  // neither overflow the arithmetic below nor ask for absurd models.
  constexpr int kMaxChannels = 65536, kMaxKernel = 4096, kMaxDilation = 1024, kMaxLayers = 16;
  if (embedding_dim < 1 || embedding_dim > kMaxChannels) fail("embedding_dim must be in 1..65536");
  if (upsample_rates.empty() || upsample_rates.size() != upsample_kernel_sizes.size())
    fail("upsample_rates and upsample_kernel_sizes must have the same, non-zero length");
  if (upsample_rates.size() > kMaxLayers) fail("at most 16 upsampling stages");
  for (size_t i = 0; i < upsample_rates.size(); ++i) {
    if (upsample_rates[i] < 1 || upsample_kernel_sizes[i] < upsample_rates[i] ||
        upsample_kernel_sizes[i] > kMaxKernel || (upsample_kernel_sizes[i] - upsample_rates[i]) % 2 != 0)
      fail(
          "each upsample kernel must be >= its rate (and at most 4096) with an even difference (output = "
          "rate x input)");
  }
  if (hop_samples() != grid::kHop)
    fail("the product of upsample_rates must be " + std::to_string(grid::kHop) +
         " (one unit frame of 16 kHz audio)");
  if (upsample_initial_channel < (1 << upsample_rates.size()) || upsample_initial_channel > kMaxChannels)
    fail("upsample_initial_channel must be at least 2^(number of upsampling stages) and at most 65536");
  if (resblock_kernel_sizes.empty() || resblock_kernel_sizes.size() != resblock_dilation_sizes.size())
    fail("resblock_kernel_sizes and resblock_dilation_sizes must have the same, non-zero length");
  if (resblock_kernel_sizes.size() > kMaxLayers) fail("at most 16 resblocks per stage");
  for (size_t i = 0; i < resblock_kernel_sizes.size(); ++i) {
    if (resblock_kernel_sizes[i] < 1 || resblock_kernel_sizes[i] % 2 == 0 ||
        resblock_kernel_sizes[i] > kMaxKernel)
      fail("resblock kernels must be odd and at most 4096");
    if (resblock_dilation_sizes[i].empty() || resblock_dilation_sizes[i].size() > kMaxLayers)
      fail("each resblock needs 1 to 16 dilations");
    for (int d : resblock_dilation_sizes[i])
      if (d < 1 || d > kMaxDilation) fail("dilations must be in 1..1024");
  }
  if (mpd_periods.empty() || mpd_periods.size() > kMaxLayers || mpd_channels.size() != 5)
    fail("mpd needs 1 to 16 periods and exactly 5 channel counts");
  for (int p : mpd_periods)
    if (p < 1 || p > kMaxKernel) fail("periods must be in 1..4096");
  if (msd_scales < 1 || msd_scales > kMaxLayers || msd_channels.size() != 7 || msd_groups.size() != 7)
    fail("msd needs 1 to 16 scales and exactly 7 channel counts and 7 groups");
  for (size_t i = 0; i < 7; ++i) {
    const int in = i == 0 ? 1 : msd_channels[i - 1];
    if (msd_channels[i] < 1 || msd_channels[i] > kMaxChannels || msd_groups[i] < 1 ||
        in % msd_groups[i] != 0 || msd_channels[i] % msd_groups[i] != 0)
      fail("msd channels must be in 1..65536, and its groups must divide the channels on both sides");
  }
  for (int c : mpd_channels)
    if (c < 1 || c > kMaxChannels) fail("mpd channels must be in 1..65536");
  if (segment_frames < 4 || segment_frames > 100000) fail("segment_frames must be in 4..100000");
  if (num_speakers < 0 || num_speakers > 65535) fail("num_speakers must be in 0..65535");
  if (speaker_embedding_dim < 0 || speaker_embedding_dim > kMaxChannels)
    fail("speaker_embedding_dim must be in 0..65536");
  if (has_speaker_table() && has_speaker_embedder())
    fail("a speaker table and a speaker embedder cannot both be used");
  if (dur_predictor_hidden < 0 || dur_predictor_hidden > kMaxChannels)
    fail("dur_predictor_hidden must be in 0..65536");
  // fairseq's VariancePredictor pads its second convolution by 1 whatever
  // the kernel: any other kernel than 3 changes the sequence length, and
  // the reference itself fails on it.
  if (has_duration_predictor() && dur_predictor_kernel != 3)
    fail(
        "the duration predictor's kernel size (var_pred_kernel_size) must be 3: its second convolution pads "
        "by 1");
}

int VocoderConfig::receptive_field_frames() const {
  // Half-width in seconds, stage by stage; each term bounds how far one
  // output sample of that layer reaches into its input.
  double rate = grid::kFrameRate;
  double reach = 3.0 / rate;  // conv_pre, kernel 7 at the frame rate
  for (size_t i = 0; i < upsample_rates.size(); ++i) {
    // A transposed convolution output sample sees ceil(K / u) input samples.
    reach += (std::ceil(static_cast<double>(upsample_kernel_sizes[i]) / upsample_rates[i]) + 1.0) / rate;
    rate *= upsample_rates[i];
    int widest = 0;
    for (size_t r = 0; r < resblock_kernel_sizes.size(); ++r) {
      const int half = (resblock_kernel_sizes[r] - 1) / 2;
      int w = 0;
      for (int d : resblock_dilation_sizes[r]) w += half * d + half;
      if (w > widest) widest = w;
    }
    reach += widest / rate;
  }
  reach += 3.0 / rate;  // conv_post
  return static_cast<int>(std::ceil(reach * grid::kFrameRate)) + 1;
}

}  // namespace acoustok
