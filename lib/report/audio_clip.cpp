// SPDX-License-Identifier: MIT
#include "report/audio_clip.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "report/text.hpp"

namespace acoustok::report {
namespace {

void put_le16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put_le32(std::string& s, uint32_t v) {
  put_le16(s, v & 0xFFFF);
  put_le16(s, v >> 16);
}

}  // namespace

std::string wav_bytes(const std::vector<float>& x, size_t n) {
  n = std::min(n, x.size());
  std::string w = "RIFF";
  put_le32(w, static_cast<uint32_t>(36 + 2 * n));
  w += "WAVEfmt ";
  put_le32(w, 16);
  put_le16(w, 1);  // PCM
  put_le16(w, 1);  // mono
  put_le32(w, grid::kSampleRate);
  put_le32(w, grid::kSampleRate * 2);
  put_le16(w, 2);
  put_le16(w, 16);
  w += "data";
  put_le32(w, static_cast<uint32_t>(2 * n));
  for (size_t i = 0; i < n; ++i) {
    const double v = std::max(-1.0, std::min(1.0, static_cast<double>(x[i])));
    const auto s = static_cast<int16_t>(std::lround(v * 32767.0));
    put_le16(w, static_cast<uint16_t>(s));
  }
  return w;
}

std::string player_html(const std::string& label, const std::vector<float>& x, double seconds, Counters& n) {
  const size_t cap = static_cast<size_t>(std::max(0.0, seconds) * grid::kSampleRate);
  const bool cut = x.size() > cap;
  ++n.clips;
  return "<div class=\"player\"><span>" + esc(label) +
         (cut ? " (first " + num(seconds) + " s of " +
                    fixed(static_cast<double>(x.size()) / grid::kSampleRate, 1) + " s)"
              : "") +
         "</span><audio controls preload=\"auto\" src=\"data:audio/wav;base64," + base64(wav_bytes(x, cap)) +
         "\"></audio></div>";
}

bool read_wav_for_report(const std::string& path, std::vector<float>& x, std::string& note,
                         const Options& opt, Counters& n) {
  try {
    x = read_audio_16k_mono(path);
    return true;
  } catch (const Error& e) {
    if (opt.skipped) opt.skipped(e.what());
    ++n.skipped_audio;
    note = "<p class=\"note\">" + esc(e.what()) + "</p>";
    return false;
  }
}

}  // namespace acoustok::report
