// SPDX-License-Identifier: MIT
// acoustok synth --checkpoint CKPT UNITS.txt -o OUT.wav: units to speech.
// Every line of UNITS.txt is one utterance; they are joined in order.
#include "config.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "common/fs_util.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"

namespace acoustok::tools {
namespace {

constexpr size_t kWholeLineFrames = 60 * grid::kFrameRate;  // one minute of units
constexpr int kStreamChunkFrames = 500;                      // 10 s per step beyond that

struct SynthArgs {
  std::string checkpoint, vocoder_config, units, out;
  std::string device = "auto";
  int threads = 0;
};

void run_synth(const SynthArgs& a) {
  configure_process_for(a.threads, true);
  auto vocoder = Vocoder::load(a.checkpoint, a.device, a.vocoder_config);
  const InputArg units(a.units);
  const std::string text = common::read_text_file(units.path());
  const auto lines = parse_unit_lines(text, a.units);
  size_t frames = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    check_units_in_range(lines[i], vocoder->num_units(),
                         a.units + ": line " + std::to_string(i + 1) + " (the vocoder has k=" + std::to_string(vocoder->num_units()) + ")");
    frames += lines[i].size();
  }
  if (frames == 0) throw file_error(a.units, "holds no units");
  // Written as it is made: a line is synthesised whole up to a minute of
  // units, longer ones in seamless chunks (as unitvocoder streams), so memory
  // stays flat however long the input.
  OutputArg output(a.out, ".wav");
  WavWriter out(output.path());
  for (const auto& line : lines) {
    if (line.size() <= kWholeLineFrames) {
      const auto part = vocoder->synthesize(line.data(), line.size());
      out.write(part.data(), part.size());
      continue;
    }
    StreamingVocoder stream(*vocoder, kStreamChunkFrames);
    for (size_t at = 0; at < line.size(); at += kStreamChunkFrames) {
      const size_t n = std::min<size_t>(kStreamChunkFrames, line.size() - at);
      const auto part = stream.push(line.data() + at, n);
      out.write(part.data(), part.size());
    }
    const auto rest = stream.finish();
    out.write(rest.data(), rest.size());
  }
  out.commit();
  output.finish();
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Units to 16 kHz speech with a vocoder checkpoint");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Vocoder checkpoint: acoustok's (vocoder_final.pt) or a released speech-resynthesis/fairseq unit HiFi-GAN")
      ->required();
  cmd->add_option("--vocoder-config", a->vocoder_config,
                  "config.json of a released vocoder (default: config.json beside the checkpoint)");
  cmd->add_option("units", a->units, "Unit text: space-separated ids, one utterance per line (joined in order); - for standard input")->required();
  cmd->add_option("-o,--output", a->out, "Output WAV (16 kHz mono PCM16, 320 samples per unit); - for standard output")->required();
  cmd->add_option("--device", a->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->callback([a]() { run_synth(*a); });
}

}  // namespace acoustok::tools
