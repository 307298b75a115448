// SPDX-License-Identifier: MIT
// Vocoder metrics, config and unit parsing, and chunked synthesis logic:
// known answers and the NumPy reference of fixtures/gen_vocoder_fixtures.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "audio/spectral.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_config.hpp"
#include "acoustok/vocoder_data.hpp"
#include "acoustok/vocoder_metrics.hpp"
#include "vocoder/mel_cepstral_distortion.hpp"
#include "vocoder/mel_cepstrum.hpp"
#include "test_util.hpp"

using namespace acoustok;
using nlohmann::json;

namespace {

std::vector<float> sine(double hz, double seconds, double amp = 0.5) {
  std::vector<float> x(static_cast<size_t>(seconds * 16000));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(amp * std::sin(2 * M_PI * hz * i / 16000.0));
  return x;
}

}  // namespace

TEST(VocoderMetrics, SnrKnownAnswers) {
  const auto x = sine(220, 1.0);
  std::vector<float> y = x;
  for (auto& v : y) v *= 1.1f;  // error = 0.1 x -> 20 dB
  EXPECT_NEAR(snr_db(x.data(), x.size(), y.data(), y.size()), 20.0, 1e-4);
  EXPECT_TRUE(std::isinf(snr_db(x.data(), x.size(), x.data(), x.size())));
  // Only the first min(len) samples count.
  EXPECT_NEAR(snr_db(x.data(), x.size(), y.data(), 8000), 20.0, 1e-4);
  EXPECT_DOUBLE_EQ(length_ratio(15680, 16000), 0.98);
}

TEST(VocoderMetrics, MelFilterbankIsHtkPeakOne) {
  const auto fb = audio::htk_mel_filterbank(1024, 80, 16000, 0, 8000);
  ASSERT_EQ(fb.size(), 80u * 513u);
  for (int m = 0; m < 80; ++m) {
    float peak = 0;
    for (int k = 0; k < 513; ++k)
      peak = std::max(peak, fb[static_cast<size_t>(m) * 513 + static_cast<size_t>(k)]);
    EXPECT_GT(peak, 0.3f) << m;  // narrow low bands miss their exact centre bin
    EXPECT_LE(peak, 1.0f) << m;
  }
  const auto d = audio::dct2_ortho_matrix(4, 4);  // orthonormal: D D^T = I
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      double s = 0;
      for (int n = 0; n < 4; ++n) s += d[static_cast<size_t>(a * 4 + n)] * d[static_cast<size_t>(b * 4 + n)];
      EXPECT_NEAR(s, a == b ? 1.0 : 0.0, 1e-12);
    }
}

TEST(VocoderMetrics, McdKnownAnswers) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 0.1f);
  std::vector<float> x(16000);
  for (auto& v : x) v = noise(rng);
  EXPECT_NEAR(vocoder::mcd_db(x.data(), x.size(), x.data(), x.size()), 0.0, 1e-9);
  // A gain moves c0 only (dropped): c1..c24 barely move (the 1e-6 floor).
  std::vector<float> y = x;
  for (auto& v : y) v *= 0.5f;
  EXPECT_NEAR(vocoder::mcd_db(x.data(), x.size(), y.data(), y.size()), 0.0, 0.01);
  // Frame count as SPTK's `frame -l 1024 -p 256`: ceil(n / 256), the first centred on sample 0.
  EXPECT_EQ(vocoder::mel_cepstra(x.data(), 1024).size(), 4u);
  EXPECT_EQ(vocoder::mel_cepstra(x.data(), 16000).size(), 63u);
  EXPECT_EQ(vocoder::mel_cepstra(x.data(), 257).size(), 2u);
  EXPECT_TRUE(std::isnan(vocoder::mcd_db(x.data(), 0, x.data(), x.size())));
  // White noise against a sine is far away.
  const auto s = sine(440, 1.0);
  EXPECT_GT(vocoder::mcd_db(x.data(), x.size(), s.data(), s.size()), 10.0);
}

// Our mcep against SPTK 3.9's command-line tools: their numbers are in
// fixtures/vocoder/metrics/sptk_mcep.json (fixtures/gen_mcep_fixtures.py),
// so a machine without SPTK (Debian 13) still checks them.
TEST(MelCepstrum, MatchesSptkFixture) {
  const json ref = json::parse(test::read_file(test::fixture("vocoder/metrics/sptk_mcep.json")));
  const vocoder::MelCepstralAnalysis mcep(1024, 24, 0.42);
  vocoder::MelCepstralAnalysis::Options options;
  options.periodogram_add = 1e-6;
  double worst = 0, worst_c0 = 0;
  size_t checked = 0;
  for (const auto& f : ref["files"]) {
    const std::string wav = f["wav"];
    const auto x = read_audio_16k_mono(test::fixture(wav));
    ASSERT_EQ(x.size(), f["samples"].get<size_t>()) << wav;
    const auto cepstra = vocoder::mel_cepstra(x.data(), x.size());
    ASSERT_EQ(cepstra.size(), f["frame_count"].get<size_t>()) << wav;
    const auto& frames = f["frames"];
    for (size_t i = 0; i < frames.size(); ++i) {
      const int k = frames[i];
      const auto& want = f["mcep"][i];
      ASSERT_EQ(want.size(), 25u);
      // The frame as docs/metrics.md builds it, through the analysis itself (gives c0 too).
      std::vector<double> frame(1024), c(25);
      for (int j = 0; j < 1024; ++j) {
        const long at = 256L * k - 512 + j;
        const double v =
            at >= 0 && at < static_cast<long>(x.size()) ? x[static_cast<size_t>(at)] * 32768.0 : 0.0;
        frame[static_cast<size_t>(j)] = v * (0.54 - 0.46 * std::cos(2 * M_PI * j / 1023.0));
      }
      const auto result = mcep.analyze(frame.data(), c.data(), options);
      EXPECT_TRUE(result.converged && !result.singular) << wav << " frame " << k;
      for (int d = 0; d <= 24; ++d) {
        const double diff = std::fabs(c[static_cast<size_t>(d)] - want[static_cast<size_t>(d)].get<double>());
        EXPECT_LT(diff, 1e-4) << wav << " frame " << k << " c" << d;
        double& worst_here = d == 0 ? worst_c0 : worst;
        worst_here = std::max(worst_here, diff);
        if (d > 0) {
          EXPECT_NEAR(cepstra[static_cast<size_t>(k)][static_cast<size_t>(d - 1)], c[static_cast<size_t>(d)],
                      1e-12);
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 150u);
  std::printf("mel-cepstra of %zu frames vs SPTK 3.9's tools: max |diff| c1..c24 %.2e, c0 %.2e\n", checked,
              worst, worst_c0);
  RecordProperty("max_abs_diff_c1_c24", std::to_string(worst));
}

TEST(MelCepstrum, McdMatchesSptkPairs) {
  const json ref = json::parse(test::read_file(test::fixture("vocoder/metrics/sptk_mcep.json")));
  ASSERT_EQ(ref["mcd_pairs"].size(), 4u);
  for (const auto& p : ref["mcd_pairs"]) {
    const auto x = read_audio_16k_mono(test::fixture(p["orig"].get<std::string>()));
    const auto y = read_audio_16k_mono(test::fixture(p["synth"].get<std::string>()));
    const double got = vocoder::mcd_db(x.data(), x.size(), y.data(), y.size());
    EXPECT_NEAR(got, p["mcd_db"].get<double>(), 0.01) << p["synth"];
    EXPECT_EQ(vocoder::mcd_path_length(x.data(), x.size(), y.data(), y.size()),
              p["path_length"].get<size_t>())
        << p["synth"];
    std::printf("mcd_db %s: ours %.6f, SPTK + DTW %.6f (diff %.1e dB)\n",
                p["synth"].get<std::string>().c_str(), got, p["mcd_db"].get<double>(),
                got - p["mcd_db"].get<double>());
  }
}

TEST(MelCepstrum, KnownAnswers) {
  // The all-pass series: (z^-1 - a) / (1 - a z^-1) = -a + (1 - a^2) (z^-1 + a z^-2 + a^2 z^-3 ...).
  const double a = 0.42;
  const auto p = vocoder::allpass_power_series(6, 3, a);
  EXPECT_DOUBLE_EQ(p(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(p(3, 0), 0.0);
  EXPECT_DOUBLE_EQ(p(0, 1), -a);
  for (int n = 1; n <= 6; ++n) EXPECT_NEAR(p(n, 1), (1 - a * a) * std::pow(a, n - 1), 1e-15) << n;
  EXPECT_NEAR(p(0, 2), a * a, 1e-15);                 // (-a)^2
  EXPECT_NEAR(p(1, 2), -2 * a * (1 - a * a), 1e-15);  // 2 (-a) (1 - a^2)
  // Warping by a then by -a gives the cepstrum back (the series are long enough).
  const Eigen::MatrixXd there = vocoder::allpass_power_series(200, 30, -a);  // 31 coefficients -> 201
  const Eigen::MatrixXd back = vocoder::allpass_power_series(30, 200, a);
  EXPECT_LT(((back * there) - Eigen::MatrixXd::Identity(31, 31)).cwiseAbs().maxCoeff(), 1e-12);

  const vocoder::MelCepstralAnalysis mcep(1024, 24, a);
  vocoder::MelCepstralAnalysis::Options options;
  options.periodogram_add = 1e-6;
  std::vector<double> frame(1024, 0.0), c(25);
  // Digital silence: a flat periodogram of 1e-6, c0 = ln(1e-6) / 2, the rest 0.
  auto r = mcep.analyze(frame.data(), c.data(), options);
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(c[0], 0.5 * std::log(1e-6), 1e-12);
  for (int d = 1; d <= 24; ++d) EXPECT_NEAR(c[static_cast<size_t>(d)], 0.0, 1e-12) << d;
  // An impulse: a flat periodogram of 30000^2, c0 = ln(30000), the rest 0.
  frame[300] = 30000.0;
  r = mcep.analyze(frame.data(), c.data(), options);
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(c[0], std::log(30000.0), 1e-9);
  for (int d = 1; d <= 24; ++d) EXPECT_NEAR(c[static_cast<size_t>(d)], 0.0, 1e-9) << d;
  // A gain g moves c0 by ln g and nothing else (beyond the 1e-6 added).
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 1000);
  std::vector<double> c2(25);
  for (int i = 0; i < 1024; ++i)
    frame[static_cast<size_t>(i)] = noise(rng) * (0.54 - 0.46 * std::cos(2 * M_PI * i / 1023.0));
  mcep.analyze(frame.data(), c.data(), options);
  for (auto& v : frame) v *= 0.25;
  mcep.analyze(frame.data(), c2.data(), options);
  EXPECT_NEAR(c2[0] - c[0], std::log(0.25), 1e-6);
  for (int d = 1; d <= 24; ++d) EXPECT_NEAR(c2[static_cast<size_t>(d)], c[static_cast<size_t>(d)], 1e-6) << d;
  // The iteration limits: with an end condition of 0 it runs all 30 updates;
  // a determinant floor no system passes stops it before the first update.
  options.end_condition = 0.0;
  r = mcep.analyze(frame.data(), c2.data(), options);
  EXPECT_EQ(r.iterations, 30);
  EXPECT_FALSE(r.converged);
  options = {};
  options.periodogram_add = 1e-6;
  options.determinant_floor = 1e30;
  r = mcep.analyze(frame.data(), c2.data(), options);
  EXPECT_TRUE(r.singular);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_THROW(vocoder::MelCepstralAnalysis(1023, 24, a), std::invalid_argument);
  EXPECT_THROW(vocoder::MelCepstralAnalysis(1024, 24, 1.0), std::invalid_argument);
}

TEST(VocoderMetrics, DtwFollowsRepeatsAtZeroCost) {
  const std::vector<std::vector<double>> a{{0}, {1}, {2}}, b{{0}, {0}, {1}, {2}, {2}};
  const auto p = dtw_path_costs(a, b);
  ASSERT_EQ(p.size(), 5u);
  for (double c : p) EXPECT_EQ(c, 0.0);
  const std::vector<std::vector<double>> c{{3}, {4}};
  const auto q = dtw_path_costs(a, c);  // (0,0) (1,0) (2,0)? no: diagonal first
  ASSERT_EQ(q.size(), 3u);
  EXPECT_DOUBLE_EQ(q.front(), 3.0);
  EXPECT_DOUBLE_EQ(q.back(), 2.0);
}

TEST(VocoderMetrics, YinKnownPitches) {
  // A harmonic tone at 150 Hz and a pure 230 Hz sine: f0 within 0.5 Hz, all voiced.
  std::vector<float> h(16000);
  for (size_t i = 0; i < h.size(); ++i)
    for (int k = 1; k <= 5; ++k)
      h[i] += static_cast<float>(0.15 / k * std::sin(2 * M_PI * 150 * k * i / 16000.0));
  for (const auto& [sig, f] : {std::make_pair(h, 150.0), std::make_pair(sine(230, 1.0), 230.0)}) {
    const PitchTrack p = yin_pitch(sig.data(), sig.size());
    ASSERT_EQ(p.f0.size(), (16000u - 666u) / 160u + 1u);
    for (size_t t = 0; t < p.f0.size(); ++t) {
      ASSERT_TRUE(p.voiced[t]) << t;
      EXPECT_NEAR(p.f0[t], f, 0.5) << t;
    }
  }
  // Silence and white noise are unvoiced.
  std::vector<float> z(16000, 0.0f);
  for (bool v : yin_pitch(z.data(), z.size()).voiced) EXPECT_FALSE(v);
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 0.3f);
  for (auto& v : z) v = noise(rng);
  int voiced = 0;
  for (bool v : yin_pitch(z.data(), z.size()).voiced) voiced += v;
  EXPECT_LT(voiced, 5);
  // Errors: same track -> 0; an octave up everywhere -> RMSE = f0.
  const auto a = sine(200, 0.5), b = sine(400, 0.5);
  const PitchErrors same = pitch_errors(yin_pitch(a.data(), a.size()), yin_pitch(a.data(), a.size()));
  EXPECT_EQ(same.f0_rmse_hz, 0.0);
  EXPECT_EQ(same.vde, 0.0);
  EXPECT_EQ(same.gpe, 0.0);
  EXPECT_EQ(same.ffe, 0.0);
  const PitchErrors oct = pitch_errors(yin_pitch(a.data(), a.size()), yin_pitch(b.data(), b.size()));
  EXPECT_NEAR(oct.f0_rmse_hz, 200.0, 1.0);
  EXPECT_EQ(oct.gpe, 1.0);  // an octave is a gross error everywhere
  EXPECT_EQ(oct.ffe, 1.0);
  const PitchErrors none = pitch_errors(yin_pitch(a.data(), a.size()), yin_pitch(z.data(), z.size()));
  EXPECT_GT(none.vde, 0.95);
  EXPECT_TRUE(std::isnan(none.gpe) || none.gpe >= 0.0);
}

TEST(VocoderMetrics, MatchNumpyReference) {
  const json ref = json::parse(test::read_file(test::fixture("vocoder/metrics/metrics.json")));
  const auto x = read_audio_16k_mono(test::fixture("vocoder/metrics/reference.wav"));
  ASSERT_EQ(ref["pairs"].size(), 4u);
  for (const auto& p : ref["pairs"]) {
    const std::string name = p["name"];
    const auto y = read_audio_16k_mono(test::fixture("vocoder/metrics/" + name + ".wav"));
    EXPECT_NEAR(snr_db(x.data(), x.size(), y.data(), y.size()), p["snr_db"].get<double>(), 1e-6) << name;
    EXPECT_NEAR(length_ratio(y.size(), x.size()), p["length_ratio"].get<double>(), 1e-12) << name;
    const PitchTrack px = yin_pitch(x.data(), x.size()), py = yin_pitch(y.data(), y.size());
    int voiced = 0;
    for (bool v : px.voiced) voiced += v;
    EXPECT_EQ(voiced, p["reference_voiced_frames"].get<int>()) << name;
    const PitchErrors e = pitch_errors(px, py);
    EXPECT_EQ(e.voiced_both, p["voiced_both"].get<int>()) << name;
    EXPECT_NEAR(e.vde, p["vde"].get<double>(), 1e-12) << name;
    EXPECT_NEAR(e.f0_rmse_hz, p["f0_rmse_hz"].get<double>(), 1e-6) << name;
  }
}

TEST(VocoderMetrics, UnitAgreement) {
  EXPECT_DOUBLE_EQ(unit_agreement({1, 2, 3, 4}, {1, 0, 3, 4, 9}), 0.75);
  EXPECT_TRUE(std::isnan(unit_agreement({}, {1})));
}

TEST(VocoderConfig, PresetsRoundTripAndValidate) {
  for (const char* name : {"tiny", "small", "v1"}) {
    const VocoderConfig c = VocoderConfig::preset(name);
    c.validate(name);
    EXPECT_EQ(c.hop_samples(), 320);
    const VocoderConfig back = VocoderConfig::from_json(c.to_json(), "test");
    EXPECT_EQ(back.to_json(), c.to_json());
  }
  const VocoderConfig v1 = VocoderConfig::preset("v1");
  EXPECT_EQ(v1.upsample_rates, (std::vector<int>{5, 4, 4, 2, 2}));
  EXPECT_EQ(v1.upsample_kernel_sizes, (std::vector<int>{11, 8, 8, 4, 4}));
  EXPECT_EQ(v1.upsample_initial_channel, 512);
  EXPECT_EQ(v1.embedding_dim, 128);
  EXPECT_EQ(v1.resblock_kernel_sizes, (std::vector<int>{3, 7, 11}));
  EXPECT_EQ(v1.mpd_periods, (std::vector<int>{2, 3, 5, 7, 11}));
  EXPECT_EQ(v1.msd_scales, 3);
  EXPECT_EQ(v1.segment_frames, 50);
  // V1 reaches about 0.5 s to each side.
  EXPECT_EQ(v1.receptive_field_frames(), 26);
  EXPECT_THROW(VocoderConfig::preset("huge"), Error);
  EXPECT_THROW(VocoderConfig::from_json(R"({"upsample_rates": [5, 4, 4, 2, 1]})", "x"), Error);
  EXPECT_THROW(VocoderConfig::from_json("[1, 2]", "x"), Error);
  EXPECT_THROW(VocoderConfig::from_json("{bad", "x"), Error);
  const VocoderConfig over = VocoderConfig::from_json(R"({"base": "tiny", "segment_frames": 20})", "x");
  EXPECT_EQ(over.name, "tiny");
  EXPECT_EQ(over.segment_frames, 20);
}

TEST(VocoderData, ParsesUnitLinesAndRejectsGarbage) {
  const auto lines = parse_unit_lines("1 2 3\n\n 40  5\r\n", "u.txt");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(lines[1].empty());
  EXPECT_EQ(lines[2], (std::vector<int32_t>{40, 5}));
  EXPECT_THROW(parse_unit_lines("1 2 x\n", "u.txt"), Error);
  EXPECT_THROW(parse_unit_lines("1 -2\n", "u.txt"), Error);
  EXPECT_THROW(check_units_in_range({1, 2, 24}, 24, "u"), Error);
  EXPECT_NO_THROW(check_units_in_range({0, 23}, 24, "u"));
}

TEST(VocoderData, ReadsTheFixtureCorpus) {
  const UnitCorpus c = read_unit_corpus(test::fixture("vocoder/units"));
  EXPECT_EQ(c.k, 24);
  ASSERT_GE(c.segments.size(), 8u);
  for (const auto& s : c.segments) {
    const auto audio = read_audio_16k_mono(test::fixture("vocoder/segments/" + s.file));
    EXPECT_EQ(static_cast<int64_t>(s.units.size()), (static_cast<int64_t>(audio.size()) - 400) / 320 + 1)
        << s.file;
  }
  const std::string dir = test::make_temp_dir("corpus");
  json j = json::parse(test::read_file(test::fixture("vocoder/units/corpus_timestamped.json")));
  j["segments"][2]["units"][5] = 24;
  common::write_text_file(dir + "/corpus_timestamped.json", j.dump());
  try {
    read_unit_corpus(dir);
    FAIL() << "unit >= k accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos) << e.what();
  }
}

// A stand-in generator whose sample block i depends on units i-R..i+R with
// zero padding at the ends, as a convolutional generator does.
class WindowVocoder : public Vocoder {
 public:
  explicit WindowVocoder(int reach) {
    config_.num_units = 100;
    reach_ = reach;
  }
  const VocoderConfig& config() const override { return config_; }
  std::vector<float> synthesize(const int32_t* u, size_t n) override {
    std::vector<float> out(n * 320);
    for (size_t i = 0; i < n; ++i) {
      double v = 0;
      for (int d = -reach_; d <= reach_; ++d) {
        const auto j = static_cast<int64_t>(i) + d;
        if (j >= 0 && j < static_cast<int64_t>(n)) v += u[j] * (d + 2.0 * reach_ + 1);
      }
      for (int s = 0; s < 320; ++s) out[i * 320 + static_cast<size_t>(s)] = static_cast<float>(v + s);
    }
    return out;
  }

 private:
  VocoderConfig config_;
  int reach_;
};

TEST(StreamingVocoder, ChunksEqualWholeWithEnoughContext) {
  WindowVocoder voc(4);
  std::vector<int32_t> units(237);
  for (size_t i = 0; i < units.size(); ++i) units[i] = static_cast<int32_t>((i * 7919) % 100);
  const auto whole = voc.synthesize(units.data(), units.size());
  for (int chunk : {1, 7, 50}) {
    StreamingVocoder s(voc, chunk, 4);
    std::vector<float> out;
    for (size_t i = 0; i < units.size(); i += 13) {
      const auto part = s.push(units.data() + i, std::min<size_t>(13, units.size() - i));
      EXPECT_EQ(part.size() % 320, 0u);
      out.insert(out.end(), part.begin(), part.end());
      EXPECT_LE(s.frames_pushed() - s.frames_emitted(), s.latency_frames());
    }
    const auto tail = s.finish();
    out.insert(out.end(), tail.begin(), tail.end());
    EXPECT_EQ(out, whole) << "chunk " << chunk;
  }
  // Too little context shows seams: the test can fail.
  StreamingVocoder short_ctx(voc, 10, 2);
  auto out = short_ctx.push(units.data(), units.size());
  const auto tail = short_ctx.finish();
  out.insert(out.end(), tail.begin(), tail.end());
  ASSERT_EQ(out.size(), whole.size());
  EXPECT_NE(out, whole);
}

namespace {

// A stand-in generator with a continuous waveform: a 200 Hz tone (its period
// divides the 320-sample hop, so the output shifts with whole frames as a
// generator's does) whose amplitude at sample t is a raised-cosine weighted
// sum of the units within `reach` frames, zero-padded at the ends: a chunk
// synthesised without its right context fades out toward its end, so chunk
// joins without a crossfade jump in level.
class ToneVocoder : public Vocoder {
 public:
  explicit ToneVocoder(int reach) : reach_(reach) { config_.num_units = 100; }
  const VocoderConfig& config() const override { return config_; }
  std::vector<float> synthesize(const int32_t* u, size_t n) override {
    std::vector<float> out(n * 320);
    constexpr double kPi = 3.14159265358979323846;
    for (int64_t t = 0; t < static_cast<int64_t>(out.size()); ++t) {
      double amp = 0;
      for (int64_t j = std::max<int64_t>(0, t / 320 - reach_);
           j <= std::min<int64_t>(n - 1, t / 320 + reach_); ++j) {
        const double d = static_cast<double>(t - 320 * j - 160) / 320.0;
        if (std::abs(d) < reach_) amp += (1 + u[j]) * (0.5 + 0.5 * std::cos(kPi * d / reach_));
      }
      out[static_cast<size_t>(t)] = static_cast<float>(
          amp / (100.0 * reach_) * std::sin(2 * kPi * static_cast<double>(t % 80) / 80 + 1.0));
    }
    return out;
  }

 private:
  VocoderConfig config_;
  int reach_;
};

// Speech-like units: runs of one unit, so the level moves.
std::vector<int32_t> runs_of_units(size_t n) {
  std::vector<int32_t> u(n);
  for (size_t i = 0; i < n; ++i) u[i] = static_cast<int32_t>((i / 4 * 37) % 100);
  return u;
}

std::vector<float> stream_units(StreamingVocoder& s, const std::vector<int32_t>& units, size_t block) {
  std::vector<float> out;
  for (size_t i = 0; i < units.size(); i += block) {
    const auto part = s.push(units.data() + i, std::min(block, units.size() - i));
    EXPECT_EQ(part.size() % 320, 0u);
    out.insert(out.end(), part.begin(), part.end());
    EXPECT_LE(s.frames_pushed() - s.frames_emitted(), s.latency_frames());
  }
  const auto tail = s.finish();
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

double largest_step(const std::vector<float>& x, size_t from, size_t to) {
  double worst = 0;
  for (size_t i = std::max<size_t>(from, 1); i < std::min(to, x.size()); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(x[i] - x[i - 1])));
  return worst;
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += static_cast<double>(x[i]) * x[i];
  return std::sqrt(sum / static_cast<double>(to - from));
}

}  // namespace

TEST(StreamingVocoder, FullLookaheadIsExactAndTheLatencyFollowsTheSettings) {
  ToneVocoder voc(6);
  const auto units = runs_of_units(157);
  const auto whole = voc.synthesize(units.data(), units.size());
  for (int lookahead : {-1, 7}) {
    StreamingVocoder s(voc, 5, 7, lookahead);
    EXPECT_FALSE(s.crossfades());
    EXPECT_EQ(s.latency_frames(), 5 + 7 - 1);
    EXPECT_EQ(stream_units(s, units, 13), whole);  // bit for bit
  }
  StreamingVocoder s(voc, 1, 7, 0);
  EXPECT_TRUE(s.crossfades());
  EXPECT_EQ(s.latency_frames(), 0);
  EXPECT_EQ(s.latency_samples(), 0);
  EXPECT_EQ(StreamingVocoder(voc, 25, 7, 2).latency_samples(), 26 * 320);
  EXPECT_THROW(StreamingVocoder(voc, 0, 7, 2), Error);
  EXPECT_THROW(StreamingVocoder(voc, 5, 7, 8), Error);
}

// With less lookahead than the context, chunks join without a click or a
// level jump: the largest sample step across every join is no larger than
// the streamed signal's own steps in the period before it, and the level
// change across the join follows whole synthesis's as closely as it does
// one window earlier; the error shrinks as the lookahead grows. With the
// crossfade disabled this test fails at lookahead 0 and 2 (over a hundred
// joins; checked).
TEST(StreamingVocoder, ShortLookaheadJoinsChunksSeamlessly) {
  ToneVocoder voc(6);
  const auto units = runs_of_units(211);
  const auto whole = voc.synthesize(units.data(), units.size());
  const auto level_change = [](const std::vector<float>& x, size_t at) {
    return 20 * std::log10(rms(x, at, at + 80) / rms(x, at - 80, at));  // one period of the tone each side
  };
  for (int chunk : {1, 25}) {
    double previous_error = 1e30;
    for (int lookahead : {0, 2, 5}) {
      SCOPED_TRACE("chunk " + std::to_string(chunk) + ", lookahead " + std::to_string(lookahead));
      StreamingVocoder s(voc, chunk, 7, lookahead);
      EXPECT_EQ(s.latency_frames(), chunk + lookahead - 1);
      const auto out = stream_units(s, units, 13);
      ASSERT_EQ(out.size(), whole.size());
      const size_t every = static_cast<size_t>(chunk) * 320;
      for (size_t j = every; j < out.size(); j += every) {
        EXPECT_LE(largest_step(out, j - 4, j + 4), 1.2 * largest_step(out, j - 84, j - 4)) << "join " << j;
        const double off = std::abs(level_change(out, j) - level_change(whole, j));
        const double off_before = std::abs(level_change(out, j - 80) - level_change(whole, j - 80));
        // With no lookahead at all a new unit's level arrives within one
        // frame instead of spreading over the kernel: allow for that.
        EXPECT_LE(off - off_before, lookahead == 0 ? 5.0 : 1.5) << "join " << j;
      }
      double error = 0;
      for (size_t i = 0; i < out.size(); ++i) error += (out[i] - whole[i]) * (out[i] - whole[i]);
      EXPECT_GT(error, 0.0);
      EXPECT_LT(error, previous_error);
      previous_error = error;
    }
  }
}

// Found by fuzzing (tests/fuzz/regressions/vocoder_config): a number that is
// no int (1e20, 2.5, 2^32 + 1) was converted with undefined behaviour or a
// silent wrap; it is now an error naming the field.
TEST(VocoderConfigJson, NumbersThatAreNoIntAreErrorsNamingTheField) {
  for (const char* value : {"99999999999999999950", "2.5", "4294967297", "-4294967297"}) {
    try {
      acoustok::VocoderConfig::from_json(std::string(R"({"base": "tiny", "num_units": )") + value + "}",
                                         "c.json");
      ADD_FAILURE() << value;
    } catch (const acoustok::Error& e) {
      EXPECT_NE(std::string(e.what()).find("c.json: bad vocoder config: 'num_units' must hold integers"),
                std::string::npos)
          << e.what();
    }
  }
  const auto c = acoustok::VocoderConfig::from_json(R"({"base": "tiny", "num_units": 50})", "c.json");
  EXPECT_EQ(c.num_units, 50);
}
