// SPDX-License-Identifier: MIT
// acoustok synth --checkpoint CKPT UNITS -o DIR: units to speech, one WAV per
// utterance (a line of unit text, or a segment of `acoustok units`' corpus);
// -o OUT.wav --concat joins them into one file.
#include "config.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/tensor_file.hpp"
#include "common/fs_util.hpp"
#include "common/log_printf.hpp"
#include "common/progress.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

constexpr size_t kWholeLineFrames = 60 * grid::kFrameRate;  // one minute of units
constexpr int kStreamChunkFrames = 10 * grid::kFrameRate;   // 10 s per step beyond that

namespace fs = std::filesystem;

struct SynthArgs {
  std::string checkpoint, vocoder_config, units, out;
  std::string device = "auto";
  int threads = 0;
  bool concat = false, json_out = false;
  int dur_prediction = -1;  // -1: auto, 0: off, 1: on
  int speaker = -1;         // -1: none given
  std::string speaker_embedding;
};

// One utterance and the WAV it becomes inside the output folder.
struct Utterance {
  std::string name;   // "000003.wav", "utt_7.wav", "talk_00002.wav"
  std::string where;  // "units.txt: line 3", for messages
  std::vector<int32_t> units;
  std::vector<int32_t> durations;  // run lengths of a reduced corpus segment; empty: none
};

bool is_corpus(const std::string& arg) {
  return arg != "-" && (fs::is_directory(arg) || fs::path(arg).filename() == "corpus_timestamped.json");
}

bool ends_with_wav(const std::string& path) {
  if (path.size() < 4) return false;
  std::string ext = path.substr(path.size() - 4);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".wav";
}

// `acoustok units`' output folder: each segment named after its segment WAV.
std::vector<Utterance> read_corpus(const std::string& arg) {
  const fs::path dir = fs::is_directory(arg) ? fs::path(arg) : fs::path(arg).parent_path();
  UnitCorpus corpus = read_unit_corpus(dir.empty() ? "." : dir.string());
  std::vector<Utterance> out;
  for (auto& seg : corpus.segments) {
    const std::string name = fs::path(seg.file).replace_extension(".wav").generic_string();
    out.push_back(
        {name, corpus.path + ": segment " + seg.file, std::move(seg.units), std::move(seg.durations)});
  }
  return out;
}

// Unit text, each line named by its id ("ID|units") or its line number.
std::vector<Utterance> read_unit_text(const std::string& arg) {
  const InputArg input(arg);
  const std::string shown = arg == "-" ? "<stdin>" : arg;
  std::vector<std::string> lines, ids;
  {
    std::istringstream in(common::read_text_file(input.path()));
    std::string line;
    while (std::getline(in, line)) {
      const size_t bar = line.find('|');
      std::string id;
      if (bar != std::string::npos) {
        id = line.substr(0, bar);
        while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
        while (!id.empty() && std::isspace(static_cast<unsigned char>(id.front()))) id.erase(0, 1);
        if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos)
          throw file_error(shown, "line " + std::to_string(lines.size() + 1) + ": '" + id +
                                      "' is not an utterance id (a file name without '/')");
        line.erase(0, bar + 1);
      }
      ids.push_back(id);
      lines.push_back(line);
    }
  }
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  auto units = parse_unit_lines(text, shown);
  const size_t width = std::max<size_t>(6, std::to_string(units.size()).size());
  std::vector<Utterance> out;
  for (size_t i = 0; i < units.size(); ++i) {
    std::string name = ids[i];
    if (name.empty()) {
      name = std::to_string(i + 1);
      name.insert(0, width - name.size(), '0');
    }
    if (!ends_with_wav(name)) name += ".wav";
    out.push_back({name, shown + ": line " + std::to_string(i + 1), std::move(units[i]), {}});
  }
  return out;
}

// Written as it is made: a line is synthesised whole up to a minute of
// units, longer ones in seamless chunks (as unitvocoder streams), so memory
// stays flat however long the input.
void synthesize_into(Vocoder& vocoder, const std::vector<int32_t>& line, WavWriter& out) {
  if (line.empty()) return;
  if (line.size() <= kWholeLineFrames) {
    const auto part = vocoder.synthesize(line.data(), line.size());
    out.write(part.data(), part.size());
    return;
  }
  StreamingVocoder stream(vocoder, kStreamChunkFrames);
  for (size_t at = 0; at < line.size(); at += kStreamChunkFrames) {
    const size_t n = std::min<size_t>(kStreamChunkFrames, line.size() - at);
    const auto part = stream.push(line.data() + at, n);
    out.write(part.data(), part.size());
  }
  const auto rest = stream.finish();
  out.write(rest.data(), rest.size());
}

// Reduced units: no unit repeats its neighbour (runs collapsed).
bool is_reduced(const std::vector<int32_t>& units) {
  return std::adjacent_find(units.begin(), units.end()) == units.end();
}

// The frames a line becomes: its units, or, when they are reduced, each
// repeated by its predicted duration (predicted over the whole line) or by
// the run length its corpus carries.
std::vector<int32_t> frames_of(Vocoder& vocoder, const Utterance& u, int dur_prediction) {
  const bool predict =
      dur_prediction == 1 ||
      (dur_prediction < 0 && vocoder.config().has_duration_predictor() && is_reduced(u.units));
  if (predict && !u.units.empty()) {
    const auto durations = vocoder.predict_durations(u.units.data(), u.units.size());
    return expand_durations(u.units.data(), u.units.size(), durations);
  }
  if (!u.durations.empty()) return expand_durations(u.units.data(), u.units.size(), u.durations);
  return u.units;
}

// --speaker / --speaker-embedding against what the vocoder conditions on:
// each refused with the checkpoint and the option named, before anything
// is written.
void set_speaker(Vocoder& vocoder, const SynthArgs& a) {
  const VocoderConfig& c = vocoder.config();
  if (c.has_speaker_table()) {
    const std::string range = "0.." + std::to_string(c.num_speakers - 1);
    if (a.speaker < 0)
      throw file_error(a.checkpoint, "this vocoder has " + std::to_string(c.num_speakers) +
                                         " speakers: choose one with --speaker " + range);
    if (a.speaker >= c.num_speakers)
      throw file_error(a.checkpoint,
                       "--speaker " + std::to_string(a.speaker) + " is outside its speakers " + range);
    vocoder.set_speaker(a.speaker);
  } else if (a.speaker >= 0) {
    throw file_error(a.checkpoint, "--speaker: this vocoder has no speaker table (num_speakers)");
  }
  if (c.has_speaker_embedder()) {
    if (a.speaker_embedding.empty())
      throw file_error(a.checkpoint,
                       "this vocoder takes a speaker embedding: give --speaker-embedding FILE.npy of " +
                           std::to_string(c.speaker_embedding_dim) + " floats");
    const NpyArray e = read_npy(a.speaker_embedding);
    const auto dim = static_cast<int64_t>(c.speaker_embedding_dim);
    const bool shape_ok = (e.shape.size() == 1 && e.shape[0] == dim) ||
                          (e.shape.size() == 2 && e.shape[0] == 1 && e.shape[1] == dim);
    if (!shape_ok)
      throw file_error(a.speaker_embedding, "--speaker-embedding: the vocoder's embedder takes shape [" +
                                                std::to_string(dim) + "] or [1, " + std::to_string(dim) +
                                                "], this has " + std::to_string(e.values.size()) + " values");
    vocoder.set_speaker_embedding(e.values);
  } else if (!a.speaker_embedding.empty()) {
    throw file_error(a.checkpoint,
                     "--speaker-embedding: this vocoder has no speaker embedder (embedder_params)");
  }
  if (a.dur_prediction == 1 && !c.has_duration_predictor())
    throw file_error(a.checkpoint,
                     "--dur-prediction: this vocoder has no duration predictor (dur_predictor_params)");
}

// --json: what was written, from the writers' own counts.
void print_json(size_t utterances, const std::vector<std::string>& outputs, int64_t samples, int64_t frames) {
  const nlohmann::json summary = {{"utterances", utterances},
                                  {"outputs", outputs},
                                  {"samples", samples},
                                  {"frames", frames},
                                  {"audio_seconds", static_cast<double>(samples) / grid::kSampleRate},
                                  {"sample_rate", grid::kSampleRate}};
  std::printf("%s\n", summary.dump().c_str());
}

void run_synth(const SynthArgs& a, const Context& ctx) {
  const auto utterances = is_corpus(a.units) ? read_corpus(a.units) : read_unit_text(a.units);
  size_t frames = 0, spoken = 0;
  for (const auto& u : utterances) {
    frames += u.units.size();
    spoken += u.units.empty() ? 0 : 1;
  }
  if (frames == 0) throw file_error(a.units, "holds no units");
  // A name that ends in .wav (or -) is one file; anything else a folder.
  const bool one_file = a.out == "-" || (ends_with_wav(a.out) && !fs::is_directory(a.out));
  if (a.json_out && a.out == "-")
    throw UsageError("synth: --json needs -o FILE.wav or DIR (standard output carries the audio)");
  if (a.concat && !one_file)
    throw UsageError("--concat: joins the utterances into one file: give -o FILE.wav or -");
  if (one_file && !a.concat && spoken > 1)
    throw UsageError(a.units + " holds " + std::to_string(spoken) +
                     " utterances: give -o a folder for one WAV each, or add " +
                     "--concat to join them into " + a.out);
  std::map<std::string, std::string> names;
  if (!one_file)
    for (const auto& u : utterances)
      if (const auto [it, fresh] = names.emplace(u.name, u.where); !fresh)
        throw Error(u.where + ": " + u.name + " again (" + it->second +
                    " names it too): utterance ids must differ");

  ctx.configure_process(a.threads, true);
  auto vocoder = Vocoder::load(a.checkpoint, a.device, a.vocoder_config);
  for (const auto& u : utterances)
    check_units_in_range(u.units, vocoder->num_units(),
                         u.where + " (the vocoder has k=" + std::to_string(vocoder->num_units()) + ")");
  set_speaker(*vocoder, a);
  int64_t expanded = 0;  // frames synthesised, after durations
  if (one_file) {
    OutputArg output(a.out, ".wav");
    WavWriter out(output.path());
    for (const auto& u : utterances) {
      const auto line = frames_of(*vocoder, u, a.dur_prediction);
      expanded += static_cast<int64_t>(line.size());
      synthesize_into(*vocoder, line, out);
    }
    out.commit();
    output.finish();
    if (a.json_out) print_json(utterances.size(), {a.out}, out.samples_written(), expanded);
    return;
  }
  common::Progress progress("synth (utterances)", static_cast<int64_t>(utterances.size()));
  std::vector<std::string> written;
  int64_t samples = 0;
  for (const auto& u : utterances) {
    progress.add();
    // A WAV without samples is what every audio reader refuses: none at all.
    if (u.units.empty()) {
      common::log(LogLevel::info, "%s: no units: no %s written", u.where.c_str(), u.name.c_str());
      continue;
    }
    const fs::path path = fs::path(a.out) / u.name;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw file_error(path.parent_path().string(), "cannot create the folder: " + ec.message());
    const auto line = frames_of(*vocoder, u, a.dur_prediction);
    expanded += static_cast<int64_t>(line.size());
    WavWriter out(path.string());
    synthesize_into(*vocoder, line, out);
    out.commit();
    written.push_back(path.string());
    samples += out.samples_written();
  }
  progress.finish();
  common::log(LogLevel::info, "synth: %zu WAVs, %.1f s of speech -> %s", written.size(),
              static_cast<double>(expanded) / grid::kFrameRate, a.out.c_str());
  if (a.json_out) print_json(utterances.size(), written, samples, expanded);
}

}  // namespace

void add_synth_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Units to 16 kHz speech with a vocoder checkpoint");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Vocoder checkpoint: acoustok's (vocoder_final.pt) or a released "
                  "speech-resynthesis/fairseq unit HiFi-GAN")
      ->required();
  cmd->add_option("--vocoder-config", a->vocoder_config,
                  "config.json of a released vocoder (default: config.json beside the checkpoint)");
  cmd->add_option(
         "units", a->units,
         "Unit text: space-separated ids, one utterance per line, optionally after an id and '|' (ID|units, "
         "fairseq's speech2unit output); or the output folder of `acoustok units` (its "
         "corpus_timestamped.json); - for standard input")
      ->required();
  cmd->add_option(
         "-o,--output", a->out,
         "Output folder: one WAV per utterance (16 kHz mono PCM16, 320 samples per unit), named by its id, "
         "its segment's file name, or its line number (000001.wav); or FILE.wav (or - for standard output) "
         "for one utterance, or several with --concat")
      ->required();
  cmd->add_flag("--concat", a->concat,
                "Join every utterance, in order, into the one WAV that -o FILE.wav (or -) names");
  cmd->add_flag_function(
      "--dur-prediction,!--no-dur-prediction", [a](int64_t n) { a->dur_prediction = n > 0 ? 1 : 0; },
      "Repeat each unit by the duration the vocoder predicts (a vocoder with dur_predictor_params; the units "
      "are "
      "reduced: runs collapsed). Default: on when the vocoder has a duration predictor and the line is "
      "reduced (no "
      "unit equals its neighbour). Without prediction, a reduced corpus (units --dedup) is expanded by the "
      "durations "
      "it carries");
  cmd->add_option(
         "--speaker", a->speaker,
         "Speaker id of a multi-speaker vocoder (a speaker table: num_speakers in its config), 0..N-1; "
         "required by one, refused by others")
      ->check(checks::int_at_least(0));
  cmd->add_option(
         "--speaker-embedding", a->speaker_embedding,
         "Speaker vector of a vocoder with a speaker embedder (embedder_params): an .npy of float32 or "
         "float64, shape [D] or [1, D], D its embedder_dim")
      ->type_name("FILE.npy");
  add_device_option(cmd, a->device);
  cmd->add_option("--threads", a->threads, "CPU threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_flag("--json", a->json_out, "A summary as one JSON object on stdout");
  cmd->callback([a, &ctx]() { run_synth(*a, ctx); });
}

}  // namespace acoustok::tools
