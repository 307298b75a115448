// SPDX-License-Identifier: MIT
// Hostile options and inputs (issue 26), one row per case: the command, its
// exit status, the words its message must hold, and the files that must or
// must not exist afterwards. Thread counts beyond the CPUs run (capped, one
// warning) instead of starting thousands of threads; sizes from options are
// bounded; every message names the option or file and the rule, never
// CLI11's range over the whole double scale or a raw JSON exception.
#include "config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

namespace {

enum Needs { kNone, kTorch, kBpe };

struct Case {
  const char* name;
  // {bin}: acoustok; {fx}: the fixtures; {tmp}: a fresh folder for this row;
  // {voc}: a tiny vocoder trained once (vocoder_final.pt; torch rows only).
  // Run by sh: a glob names a file whose name is not UTF-8.
  std::string command;
  int exit_code;
  std::vector<std::string> words = {};           // each in stdout + stderr
  std::vector<std::string> must_exist = {};      // under {tmp}
  std::vector<std::string> must_not_exist = {};  // under {tmp}
  Needs needs = kNone;
  std::function<void(const std::string& tmp)> setup = nullptr;
};

const std::string kThreadsWarning = "threads asked for";

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A PCM16 mono WAV of `samples` zero samples whose header states `rate` Hz.
std::string wav_bytes(uint32_t rate, uint16_t channels, uint32_t samples) {
  auto u32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  auto u16 = [](uint16_t v) { return std::string{char(v), char(v >> 8)}; };
  const uint32_t data = samples * 2;
  return "RIFF" + u32(36 + data) + "WAVEfmt " + u32(16) + u16(1) + u16(channels) + u32(rate) + u32(rate * 2) +
         u16(2) + u16(16) + "data" + u32(data) + std::string(data, '\0');
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
  return s;
}

std::string trained_vocoder() {
  static std::string path;
  if (!path.empty()) return path;
  const std::string dir = make_temp_dir("hostile_voc");
  std::string out;
  const int rc =
      run_command(acoustok_bin() + " vocoder train -q --config tiny --units " + fixture("vocoder/units") +
                      " --audio " + fixture("vocoder/segments") + " -o " + dir +
                      " --epochs 1 --samples-per-epoch 4 --batch-size 4 --threads 2",
                  &out);
  EXPECT_EQ(rc, 0) << out;
  path = dir + "/vocoder_final.pt";
  return path;
}

const std::string kSpeech = "{fx}/silence/bursts_a.wav";  // 10 s of speech-like bursts
const std::string kModel = "--model {fx}/xlsr/xlsr_st --layer 2";
const std::string kVocTrain =
    "{bin} vocoder train -q --config tiny --units {fx}/vocoder/units --audio {fx}/vocoder/segments "
    "-o {tmp}/v --epochs 1 --samples-per-epoch 4 --batch-size 4";
// Under a time limit: a regression that starts thousands of threads fails
// instead of hanging the suite.
const std::string kLimit = "timeout 60 ";

std::vector<Case> cases() {
  std::vector<Case> t = {
      // --- the 309-digit range: one line naming the option and its rule, exit 2
      {"features_threads_negative",
       "{bin} features " + kModel + " " + kSpeech + " -o {tmp}/f.npy --threads -1",
       2,
       {"--threads", "must be an integer ≥ 0", "'-1'"},
       {},
       {"f.npy"}},
      {"units_batch_size_zero",
       "{bin} units --features {tmp} {tmp} -o {tmp}/u --batch-size 0",
       2,
       {"--batch-size", "must be an integer ≥ 1"},
       {},
       {"u"}},
      {"units_n_init_zero",
       "{bin} units --features {tmp} {tmp} -o {tmp}/u --n-init 0",
       2,
       {"--n-init", "≥ 1"},
       {},
       {"u"}},
      {"units_threads_negative",
       "{bin} units --features {tmp} {tmp} -o {tmp}/u --threads -1",
       2,
       {"--threads", "≥ 0"}},
      {"units_checkpoint_every_negative",
       "{bin} units --features {tmp} {tmp} -o {tmp}/u --checkpoint-every -5",
       2,
       {"--checkpoint-every", "≥ 0"}},
      {"units_k_zero",
       "{bin} units --features {tmp} {tmp} -o {tmp}/u --k 0",
       2,
       {"--k", "between 1 and 65535"}},
      {"kmeans_fit_batch_size_zero",
       "{bin} kmeans fit {fx}/kmeans/mix16.npy -o {tmp}/k.safetensors --batch-size 0",
       2,
       {"--batch-size", "≥ 1"},
       {},
       {"k.safetensors"}},
      {"kmeans_fit_n_init_zero",
       "{bin} kmeans fit {fx}/kmeans/mix16.npy -o {tmp}/k.safetensors --n-init 0",
       2,
       {"--n-init", "≥ 1"}},
      {"kmeans_fit_threads_negative",
       "{bin} kmeans fit {fx}/kmeans/mix16.npy -o {tmp}/k.safetensors --threads -1",
       2,
       {"--threads", "≥ 0"}},
      {"kmeans_predict_threads_negative",
       "{bin} kmeans predict {fx}/kmeans/mix16_centroids.npy {fx}/kmeans/mix16.npy -o {tmp}/u.txt --threads "
       "-1",
       2,
       {"--threads", "≥ 0"},
       {},
       {"u.txt"}},
      {"segment_jobs_zero",
       "{bin} segment " + kSpeech + " -o {tmp}/s --jobs 0",
       2,
       {"--jobs", "≥ 1"},
       {},
       {"s"}},
      {"segment_jobs_not_a_number",
       "{bin} segment " + kSpeech + " -o {tmp}/s --jobs many",
       2,
       {"--jobs", "'many'"}},
      {"features_layer_zero",
       "{bin} features " + kModel + " " + kSpeech + " -o {tmp}/f.npy --layer 0",
       2,
       {"--layer", "≥ 1"}},
      // --- sizes derived from options: at most an hour, named
      {"segment_min_silence_huge",
       "{bin} segment " + kSpeech + " -o {tmp}/s --min-silence 1e6",
       2,
       {"--min-silence", "between 0.001 and 3600 seconds"},
       {},
       {"s"}},
      {"segment_min_silence_1e9",
       "{bin} segment " + kSpeech + " -o {tmp}/s --min-silence 1e9",
       2,
       {"--min-silence", "3600"}},
      {"segment_min_silence_nan",
       "{bin} segment " + kSpeech + " -o {tmp}/s --min-silence nan",
       2,
       {"--min-silence", "'nan'"}},
      {"segment_keep_silence_huge",
       "{bin} segment " + kSpeech + " -o {tmp}/s --keep-silence 1e6",
       2,
       {"--keep-silence", "3600"}},
      {"segment_min_segment_huge",
       "{bin} segment " + kSpeech + " -o {tmp}/s --min-segment 1e6",
       2,
       {"--min-segment", "3600"}},
      {"segment_max_segment_huge",
       "{bin} segment " + kSpeech + " -o {tmp}/s --max-segment 1e9",
       2,
       {"--max-segment", "3600"}},
      {"segment_threshold_inf",
       "{bin} segment " + kSpeech + " -o {tmp}/s --threshold-db=-inf",
       2,
       {"--threshold-db"}},
      {"segment_an_hour_is_fine",
       "{bin} segment -q " + kSpeech + " -o {tmp}/s --min-silence 0.3 --max-segment 3600",
       0,
       {},
       {"s/segments.jsonl"}},
      // --- thread counts above the CPUs: capped, one warning, the work done
      {"features_threads_huge",
       kLimit + "{bin} features -q " + kModel + " " + kSpeech + " -o {tmp}/f.npy --threads 100000",
       0,
       {kThreadsWarning},
       {"f.npy"}},
      {"segment_jobs_huge",
       kLimit +
           "{bin} segment -q {fx}/silence/bursts_a.wav {fx}/silence/bursts_b.wav -o {tmp}/s --jobs 100000",
       0,
       {kThreadsWarning},
       {"s/segments.jsonl"}},
      {"kmeans_fit_threads_huge",
       kLimit + "{bin} kmeans fit -q {fx}/kmeans/mix16.npy --k 4 -o {tmp}/k.safetensors --threads 100000",
       0,
       {kThreadsWarning},
       {"k.safetensors"}},
      {"kmeans_predict_threads_huge",
       kLimit + "{bin} kmeans predict {fx}/kmeans/mix16_centroids.npy {fx}/kmeans/mix16.npy -o {tmp}/u.txt "
                "--threads 100000",
       0,
       {kThreadsWarning},
       {"u.txt"}},
      // --- files: what is wrong with them, not libsndfile's internals
      {"wav_rate_zero",
       "{bin} features " + kModel + " {tmp}/rate0.wav -o {tmp}/f.npy",
       1,
       {"rate0.wav", "sample rate of 0 Hz"},
       {},
       {"f.npy"},
       kNone,
       [](const std::string& tmp) { write_bytes(tmp + "/rate0.wav", wav_bytes(0, 1, 1600)); }},
      {"wav_no_channels",
       "{bin} segment {tmp}/ch0.wav -o {tmp}/s",
       1,
       {"ch0.wav", "0 channels"},
       {},
       {},
       kNone,
       [](const std::string& tmp) { write_bytes(tmp + "/ch0.wav", wav_bytes(16000, 0, 1600)); }},
      {"mp3_cut_to_60_bytes",
       "{bin} segment {tmp}/cut.mp3 -o {tmp}/s",
       1,
       {"cut.mp3", "cut short or corrupt", "60 bytes"},
       {},
       {},
       kNone,
       [](const std::string& tmp) {
         const std::string mp3 = acoustok::test::read_file(fixture("silence/speech_8k_stereo.mp3"));
         write_bytes(tmp + "/cut.mp3", mp3.substr(0, 60));
       }},
      {"audio_empty_file",
       "{bin} segment {tmp}/empty.wav -o {tmp}/s",
       1,
       {"empty.wav", "cannot read audio: the file is empty (0 bytes)"},
       {},
       {},
       kNone,
       [](const std::string& tmp) { write_bytes(tmp + "/empty.wav", ""); }},
      {"features_output_empty",
       "{bin} features " + kModel + " " + kSpeech + " -o ''",
       2,
       {"--output", "must name a file"}},
      {"kmeans_output_empty",
       "{bin} kmeans fit {fx}/kmeans/mix16.npy -o ''",
       2,
       {"--output", "must name a file"}},
      // --- names that are not UTF-8: escaped, that file skipped, the job goes on
      {"segment_name_not_utf8",
       "{bin} segment -q {tmp}/in*.wav {fx}/silence/bursts_a.wav -o {tmp}/s",
       1,
       {"in\\xfe.wav", "not UTF-8", "skipped"},
       {"s/segments.jsonl", "s/bursts_a_00000.wav"},
       {},
       kNone,
       [](const std::string& tmp) { fs::copy_file(fixture("silence/bursts_b.wav"), tmp + "/in\xfe.wav"); }},
  };
#if HAVE_TORCH
  const std::vector<Case> torch = {
      {"units_name_not_utf8",
       "{bin} units -q " + kModel + " --k 3 {tmp}/segs -o {tmp}/u",
       1,
       {"b\\xff.wav", "not UTF-8", "skipped"},
       {"u/corpus_timestamped.json", "u/kmeans.safetensors"},
       {},
       kTorch,
       [](const std::string& tmp) {
         fs::create_directories(tmp + "/segs");
         fs::copy_file(fixture("silence/bursts_a.wav"), tmp + "/segs/a.wav");
         fs::copy_file(fixture("silence/bursts_b.wav"), tmp + "/segs/b\xff.wav");
       }},
      {"units_threads_huge",
       kLimit + "{bin} units -q " + kModel + " --k 3 {tmp}/segs -o {tmp}/u --threads 100000",
       0,
       {kThreadsWarning},
       {"u/corpus_timestamped.json"},
       {},
       kTorch,
       [](const std::string& tmp) {
         fs::create_directories(tmp + "/segs");
         fs::copy_file(fixture("silence/bursts_a.wav"), tmp + "/segs/a.wav");
       }},
      {"vocoder_min_delta_negative",
       kVocTrain + " --min-delta -1",
       2,
       {"--min-delta", "must be a number ≥ 0"},
       {},
       {"v/vocoder_final.pt"},
       kTorch},
      {"vocoder_min_delta_nan",
       kVocTrain + " --min-delta nan",
       2,
       {"--min-delta", "'nan'"},
       {},
       {"v/vocoder_final.pt"},
       kTorch},
      {"vocoder_lr_zero", kVocTrain + " --lr 0", 2, {"--lr", "> 0"}, {}, {"v/vocoder_final.pt"}, kTorch},
      {"vocoder_epochs_zero", kVocTrain + " --epochs 0", 2, {"--epochs", "≥ 1"}, {}, {"v"}, kTorch},
      {"vocoder_threads_negative", kVocTrain + " --threads -1", 2, {"--threads", "≥ 0"}, {}, {"v"}, kTorch},
      {"vocoder_test_num_samples_zero",
       "{bin} vocoder test --checkpoint {tmp}/none.pt --units {fx}/vocoder/units --audio "
       "{fx}/vocoder/segments -o {tmp}/t "
       "--num-samples 0",
       2,
       {"--num-samples", "≥ 1"},
       {},
       {"t"},
       kTorch},
      {"synth_threads_negative",
       "{bin} synth --checkpoint {tmp}/none.pt {tmp}/u.txt -o {tmp}/o.wav --threads -1",
       2,
       {"--threads", "≥ 0"},
       {},
       {"o.wav"},
       kTorch},
      {"vocoder_train_threads_huge",
       kLimit + kVocTrain + " --threads 100000",
       0,
       {kThreadsWarning},
       {"v/vocoder_final.pt"},
       {},
       kTorch},
      {"vocoder_test_threads_huge",
       kLimit + "{bin} vocoder test -q --checkpoint {voc} --units {fx}/vocoder/units --audio "
                "{fx}/vocoder/segments -o {tmp}/t "
                "--num-samples 1 --threads 100000",
       0,
       {kThreadsWarning},
       {"t/metrics.json"},
       {},
       kTorch},
      {"synth_threads_huge",
       kLimit + "{bin} synth --checkpoint {voc} {tmp}/u.txt -o {tmp}/o.wav --threads 100000",
       0,
       {kThreadsWarning},
       {"o.wav"},
       {},
       kTorch,
       [](const std::string& tmp) { write_bytes(tmp + "/u.txt", "1 2 3 4 5 6\n"); }},
  };
  t.insert(t.end(), torch.begin(), torch.end());
#endif
#if HAVE_SENTENCEPIECE
  const std::vector<Case> bpe = {
      {"bpe_vocab_size_zero",
       "{bin} bpe {fx}/bpe/tiny.txt -o {tmp}/b --vocab-size 0",
       2,
       {"--vocab-size", "≥ 1"},
       {},
       {"b"},
       kBpe},
      {"bpe_top_negative",
       "{bin} bpe {fx}/bpe/tiny.txt -o {tmp}/b --top -1",
       2,
       {"--top", "≥ 0"},
       {},
       {"b"},
       kBpe},
      {"bpe_encode_threads_negative",
       "{bin} bpe encode {fx}/bpe/ref.model {fx}/bpe/tiny.txt --threads -1",
       2,
       {"--threads", "≥ 0"},
       {},
       {},
       kBpe},
      {"bpe_encode_threads_huge",
       kLimit + "{bin} bpe encode {fx}/bpe/ref.model {fx}/bpe/tiny.txt --threads 100000",
       0,
       {kThreadsWarning},
       {},
       {},
       kBpe},
  };
  t.insert(t.end(), bpe.begin(), bpe.end());
#endif
  return t;
}

class HostileOptions : public ::testing::TestWithParam<Case> {};

TEST_P(HostileOptions, ExitStatusMessageAndFiles) {
  const Case& c = GetParam();
  const std::string tmp = make_temp_dir(std::string("hostile_") + c.name);
  if (c.setup) c.setup(tmp);
  std::string cmd = replace_all(c.command, "{bin}", acoustok_bin());
  cmd = replace_all(cmd, "{fx}", acoustok::test::fixtures_dir());
  cmd = replace_all(cmd, "{tmp}", tmp);
  if (cmd.find("{voc}") != std::string::npos) cmd = replace_all(cmd, "{voc}", trained_vocoder());
  std::string out;
  const int rc = run_command(cmd, &out);
  EXPECT_EQ(rc, c.exit_code) << cmd << "\n" << out;
  for (const auto& w : c.words)
    EXPECT_NE(out.find(w), std::string::npos) << "'" << w << "' missing\n" << cmd << "\n" << out;
  // Never CLI11's range over the double scale nor a raw JSON exception.
  EXPECT_EQ(out.find("1797693"), std::string::npos) << out;
  EXPECT_EQ(out.find("json.exception"), std::string::npos) << out;
  // The thread-count warning comes once, however many places cap.
  const size_t first = out.find(kThreadsWarning);
  if (first != std::string::npos) {
    EXPECT_EQ(out.find(kThreadsWarning, first + 1), std::string::npos) << out;
  }
  // A usage error is one line naming the option (and the hint to --help).
  if (c.exit_code == 2) {
    EXPECT_EQ(out.rfind("acoustok: ", 0), 0u) << out;
  }
  for (const auto& f : c.must_exist)
    EXPECT_TRUE(fs::exists(tmp + "/" + f)) << f << " missing\n" << cmd << "\n" << out;
  for (const auto& f : c.must_not_exist)
    EXPECT_FALSE(fs::exists(tmp + "/" + f)) << f << " exists\n" << cmd << "\n" << out;
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileOptions, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
