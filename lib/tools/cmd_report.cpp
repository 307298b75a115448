// SPDX-License-Identifier: MIT
// acoustok report DIR... -o report.html: one self-contained HTML page from
// whatever phase outputs the folders hold. Charts are inline SVG written
// here, spectrograms PNG and players WAV as data: URIs; no script, and a
// Content-Security-Policy that forbids every fetch, so the page never
// touches the network.
//
//   phase 0  segments.jsonl                 segment-length histogram
//   phase 1  corpus_timestamped.json        unit frequencies, run lengths
//            (all_units_for_bpe.txt when the corpus is absent),
//            kmeans.safetensors             its metadata
//   phase 2  motif_analysis.json            motif lengths, coverage, top motifs
//            (bpe.vocab alone: vocabulary lengths)
//   phase 3  training_log.json              loss, held-out mel and MCD curves
//            metrics.json (vocoder test)    table, spectrograms, players
//
// Every file is untrusted input: a wrong type or a malformed line is an
// acoustok::Error naming the file, and every string taken from a file is
// HTML-escaped. corpus_timestamped.json is streamed (SAX), so memory does not
// grow with the corpus.
#include "config.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unsupported/Eigen/FFT>
#include <utility>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "audio/spectral.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "std_streams.hpp"
#include "common/fs_util.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace acoustok::tools {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kSampleRate = 16000;
constexpr int64_t kMaxUnitId = 65535;
constexpr uintmax_t kMaxJsonBytes = uintmax_t{256} << 20;  // files parsed whole
constexpr size_t kTopMotifs = 20;
constexpr int64_t kMaxMotifLength = 512;  // bpe --max-motif-length

struct ReportArgs {
  std::vector<std::string> dirs;
  std::string output;
  int samples = 8;            // vocoder test samples with spectrograms and players
  double audio_seconds = 10;  // embedded per clip (0: no players)
  bool quiet = false;
  bool json_out = false;
};

// ---------------------------------------------------------------- text ----

// HTML text and attribute values: & < > " ' escaped, control characters and
// bytes that are not UTF-8 replaced by U+FFFD.
std::string esc(const std::string& s) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n') out += static_cast<char>(c);
          else out += kReplacement;
      }
      ++i;
      continue;
    }
    size_t len = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) ok = false;
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A figure for a table: 4 significant digits in fixed notation (169326.09
// reads "169326", 0.012345 "0.01235"), exponents only for the very large or
// small; "–" when undefined.
std::string num(double v, int digits = 4) {
  if (!std::isfinite(v)) return "\xE2\x80\x93";
  char buf[64];
  const double av = std::abs(v);
  if (av == 0 || (av >= 1e-3 && av < 1e12)) {
    const int magnitude = av == 0 ? 0 : static_cast<int>(std::floor(std::log10(av)));
    std::snprintf(buf, sizeof buf, "%.*f", std::max(0, digits - 1 - magnitude), v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  }
  return buf;
}
std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "\xE2\x80\x93";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string percent(double share, int decimals = 1) { return std::isfinite(share) ? fixed(100 * share, decimals) + " %" : num(share); }
std::string integer(int64_t v) { return std::to_string(v); }

// 1h02m03s, 3m05.2s, 12.3s
std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return num(s);
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%04.1fs", static_cast<int>(s / 60), std::fmod(s, 60.0));
  else std::snprintf(buf, sizeof buf, "%dh%02dm%02ds", static_cast<int>(s / 3600), static_cast<int>(std::fmod(s, 3600.0) / 60),
                     static_cast<int>(std::fmod(s, 60.0)));
  return buf;
}

std::string coord(double v) { return printf_string("%.1f", v); }

std::string base64(const std::string& in) {
  static const char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += i + 1 < in.size() ? kTable[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---------------------------------------------------- PNG and WAV bytes ----

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xFF);
}
void put_le16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put_le32(std::string& s, uint32_t v) {
  put_le16(s, v & 0xFFFF);
  put_le16(s, v >> 16);
}

void png_chunk(std::string& png, const char* type, const std::string& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  png += body;
  put_be32(png, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

// 8-bit RGB, rows top to bottom, no filtering, zlib level 9.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb) {
  const size_t row = static_cast<size_t>(width) * 3;
  std::string raw;
  raw.reserve(static_cast<size_t>(height) * (row + 1));
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<size_t>(y) * row, row);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(&packed[0]), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw Error("report: zlib could not compress a spectrogram image");
  packed.resize(packed_size);
  static const char kSignature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  std::string png(kSignature, 8), ihdr;
  put_be32(ihdr, static_cast<uint32_t>(width));
  put_be32(ihdr, static_cast<uint32_t>(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, no filter, no interlace
  png_chunk(png, "IHDR", ihdr);
  png_chunk(png, "IDAT", packed);
  png_chunk(png, "IEND", "");
  return png;
}

// 16 kHz mono PCM16 WAV of the first n samples.
std::string wav_bytes(const std::vector<float>& x, size_t n) {
  n = std::min(n, x.size());
  std::string w = "RIFF";
  put_le32(w, static_cast<uint32_t>(36 + 2 * n));
  w += "WAVEfmt ";
  put_le32(w, 16);
  put_le16(w, 1);  // PCM
  put_le16(w, 1);  // mono
  put_le32(w, kSampleRate);
  put_le32(w, kSampleRate * 2);
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

// Viridis, 9 stops, linear in between.
void viridis(double t, uint8_t* rgb) {
  static const uint8_t kStops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                       {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::isfinite(t) ? std::max(0.0, std::min(1.0, t)) * 8 : 0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<uint8_t>(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c])));
}

// ------------------------------------------------------------ JSON input ----

json read_json_file(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxJsonBytes) throw file_error(path, "too large for a report (over 256 MiB)");
  const std::string text = common::read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw file_error(path, std::string("not valid JSON: ") + e.what());
  }
}

// Typed access to one parsed file: every wrong type names the file and the
// place ("samples[2].snr_db: expected a number, found string").
struct JsonFile {
  std::string path;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw file_error(path, (where.empty() ? "" : where + ": ") + what);
  }
  const json& object(const json& v, const std::string& where) const {
    if (!v.is_object()) fail(where, std::string("expected an object, found ") + v.type_name());
    return v;
  }
  const json& array(const json& v, const std::string& where) const {
    if (!v.is_array()) fail(where, std::string("expected an array, found ") + v.type_name());
    return v;
  }
  static std::string at(const std::string& where, const std::string& key) {
    if (where.empty()) return key;
    return where.rfind("line ", 0) == 0 ? where + ": " + key : where + "." + key;  // "line 3: start", "samples[2].snr_db"
  }
  // A number, or nullopt when absent or null.
  std::optional<double> opt_number(const json& obj, const std::string& key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) fail(at(where, key), std::string("expected a number, found ") + it->type_name());
    return it->get<double>();
  }
  double number(const json& obj, const std::string& key, const std::string& where) const {
    const auto v = opt_number(obj, key, where);
    if (!v) fail(where, "missing \"" + key + "\"");
    return *v;
  }
  double number_or_nan(const json& obj, const std::string& key, const std::string& where) const {
    return opt_number(obj, key, where).value_or(kNaN);
  }
  std::optional<std::string> opt_string(const json& obj, const std::string& key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) fail(at(where, key), std::string("expected a string, found ") + it->type_name());
    return it->get<std::string>();
  }
  std::optional<bool> opt_bool(const json& obj, const std::string& key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) fail(at(where, key), std::string("expected true or false, found ") + it->type_name());
    return it->get<bool>();
  }
};

// --------------------------------------------------------------- charts ----

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> ticks;
};

double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

// Round ticks covering [lo, hi]; `integers`: a step of at least 1 (counts, epochs).
Axis nice_axis(double lo, double hi, int target, bool from_zero, bool integers = false) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) lo = 0, hi = 1;
  lo = std::max(lo, -1e15);
  hi = std::min(hi, 1e15);
  if (from_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi - lo <= 0) {
    const double pad = std::abs(hi) > 0 ? std::abs(hi) * 0.1 : 1;
    hi += pad;
    if (!from_zero || lo < 0) lo -= pad;
  }
  Axis a;
  a.step = nice_step((hi - lo) / target);
  if (integers) a.step = std::max(a.step, 1.0);
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  if (a.hi <= a.lo) a.hi = a.lo + a.step;
  for (int i = 0; i <= 60; ++i) {
    double t = a.lo + i * a.step;
    if (t > a.hi + a.step * 1e-6) break;
    if (std::abs(t) < a.step * 1e-6) t = 0;
    a.ticks.push_back(t);
  }
  return a;
}

std::string tick_label(double v, double step, bool as_percent) {
  if (as_percent) v *= 100, step *= 100;
  const double av = std::abs(v);
  std::string s;
  if (av >= 1e6 || (av > 0 && av < 1e-4)) {
    s = printf_string("%.3g", v);
  } else {
    const int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    s = buf;
  }
  return as_percent ? s + "%" : s;
}

const char* const kPalette[] = {"#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#9c755f", "#76b7b2"};

// The plot area of a chart, in SVG pixels.
struct Frame {
  int width = 550, height = 290;  // two charts side by side on a 1200-pixel page
  double left = 66, right = 16, top = 46, bottom = 48;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }  // bottom of the plot
  double y1() const { return top; }              // top of the plot
  double map_x(const Axis& a, double v) const {
    v = std::max(a.lo, std::min(a.hi, v));
    return x0() + (v - a.lo) / (a.hi - a.lo) * (x1() - x0());
  }
  double map_y(const Axis& a, double v) const {
    v = std::max(a.lo, std::min(a.hi, v));
    return y0() - (v - a.lo) / (a.hi - a.lo) * (y0() - y1());
  }
};

std::string svg_open(const std::string& id, const std::string& title, const Frame& f) {
  const std::string w = std::to_string(f.width), h = std::to_string(f.height);
  return "<svg class=\"chart\" data-chart=\"" + esc(id) + "\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" role=\"img\" aria-label=\"" + esc(title) + "\">" + "<text class=\"title\" x=\"" + coord(f.width / 2.0) +
         "\" y=\"20\" text-anchor=\"middle\">" + esc(title) + "</text>";
}

std::string y_axis_svg(const Frame& f, const Axis& a, bool as_percent, const std::string& label) {
  std::string s;
  for (double t : a.ticks) {
    const std::string y = coord(f.map_y(a, t));
    s += "<line class=\"grid\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" + y + "\" y2=\"" + y + "\"/>";
    s += "<text class=\"tick\" x=\"" + coord(f.x0() - 6) + "\" y=\"" + coord(f.map_y(a, t) + 4) + "\" text-anchor=\"end\">" +
         tick_label(t, a.step, as_percent) + "</text>";
  }
  s += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(16," + coord((f.y0() + f.y1()) / 2) + ") rotate(-90)\">" +
       esc(label) + "</text>";
  return s;
}

std::string x_axis_svg(const Frame& f, const Axis& a) {
  std::string s;
  for (double t : a.ticks) {
    const std::string x = coord(f.map_x(a, t));
    s += "<line class=\"tick-mark\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" + coord(f.y0() + 4) + "\"/>";
    s += "<text class=\"tick\" x=\"" + x + "\" y=\"" + coord(f.y0() + 17) + "\" text-anchor=\"middle\">" + tick_label(t, a.step, false) +
         "</text>";
  }
  return s;
}

std::string x_label_svg(const Frame& f, const std::string& label) {
  return "<text class=\"axis-label\" x=\"" + coord((f.x0() + f.x1()) / 2) + "\" y=\"" + coord(f.height - 10.0) +
         "\" text-anchor=\"middle\">" + esc(label) + "</text>";
}

std::string plot_border(const Frame& f) {
  return "<line class=\"axis\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" + coord(f.y0()) +
         "\"/><line class=\"axis\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x0()) + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" +
         coord(f.y1()) + "\"/>";
}

std::string no_data_svg(const Frame& f) {
  return "<text class=\"no-data\" x=\"" + coord((f.x0() + f.x1()) / 2) + "\" y=\"" + coord((f.y0() + f.y1()) / 2) +
         "\" text-anchor=\"middle\">no data</text>";
}

std::string figure(const std::string& svg, const std::string& caption_html) {
  return "<figure class=\"chart-box\">" + svg + (caption_html.empty() ? "" : "<figcaption>" + caption_html + "</figcaption>") +
         "</figure>\n";
}

struct Bar {
  std::string label;  // x label (plain text)
  double value = 0;
  std::string tip;    // tooltip (plain text)
};

// Bars over categories, evenly spaced; above 400 bars an area instead.
// Each bar carries data-value (its value) for tests and tools.
std::string bar_chart(const std::string& id, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Bar>& bars, bool as_percent, double reference = kNaN,
                      const std::string& reference_label = "") {
  Frame f;
  double vmax = std::isfinite(reference) ? reference : 0;
  for (const Bar& b : bars)
    if (std::isfinite(b.value)) vmax = std::max(vmax, b.value);
  const Axis ya = nice_axis(0, vmax, 5, true, !as_percent);
  std::string s = svg_open(id, title, f) + y_axis_svg(f, ya, as_percent, ylabel);
  const size_t n = bars.size();
  if (n == 0) s += no_data_svg(f);
  const double slot = n ? (f.x1() - f.x0()) / static_cast<double>(n) : 0;
  if (n > 0 && n <= 400) {
    const double gap = slot >= 4 ? slot * 0.15 : 0;
    for (size_t i = 0; i < n; ++i) {
      const double v = std::isfinite(bars[i].value) ? bars[i].value : 0;
      const double y = f.map_y(ya, v);
      s += "<rect class=\"bar\" data-value=\"" + printf_string("%.17g", v) + "\" x=\"" + coord(f.x0() + static_cast<double>(i) * slot + gap) +
           "\" y=\"" + coord(y) + "\" width=\"" + coord(std::max(0.5, slot - 2 * gap)) + "\" height=\"" + coord(f.y0() - y) +
           "\"><title>" + esc(bars[i].tip) + "</title></rect>";
    }
  } else if (n > 400) {
    std::string d = "M" + coord(f.x0()) + "," + coord(f.y0());
    for (size_t i = 0; i < n; ++i)
      d += " L" + coord(f.x0() + (static_cast<double>(i) + 0.5) * slot) + "," + coord(f.map_y(ya, std::isfinite(bars[i].value) ? bars[i].value : 0));
    d += " L" + coord(f.x1()) + "," + coord(f.y0()) + " Z";
    s += "<path class=\"area\" d=\"" + d + "\"/>";
  }
  if (n > 0) {
    size_t chars = 1;
    for (const Bar& b : bars) chars = std::max(chars, b.label.size());
    const double label_px = 6.5 * static_cast<double>(chars) + 8;
    // Every 1st, 2nd, 5th, 10th, 20th... bar, as densely as the labels fit.
    const double need = label_px * static_cast<double>(n) / (f.x1() - f.x0());
    size_t every = 1;
    for (size_t mag = 1; static_cast<double>(every) < need; mag *= 10)
      for (size_t m : {1, 2, 5})
        if (static_cast<double>(every) < need) every = m * mag;
    for (size_t i = 0; i < n; i += every)
      s += "<text class=\"tick\" x=\"" + coord(f.x0() + (static_cast<double>(i) + 0.5) * slot) + "\" y=\"" + coord(f.y0() + 17) +
           "\" text-anchor=\"middle\">" + esc(bars[i].label) + "</text>";
  }
  if (std::isfinite(reference)) {
    const std::string y = coord(f.map_y(ya, reference));
    s += "<line class=\"reference\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" + y + "\" y2=\"" + y + "\"/>";
    s += "<text class=\"reference-label\" x=\"" + coord(f.x1() - 4) + "\" y=\"" + coord(f.map_y(ya, reference) - 5) +
         "\" text-anchor=\"end\">" + esc(reference_label) + "</text>";
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

// Bars over numeric bins [edges[i], edges[i+1]).
std::string histogram_chart(const std::string& id, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                            const std::vector<double>& edges, const std::vector<double>& counts, const std::string& unit) {
  Frame f;
  double cmax = 0;
  for (double c : counts) cmax = std::max(cmax, c);
  const Axis ya = nice_axis(0, cmax, 5, true, true);
  const Axis xa = edges.size() >= 2 ? nice_axis(edges.front(), edges.back(), 8, false) : nice_axis(0, 1, 5, true);
  std::string s = svg_open(id, title, f) + y_axis_svg(f, ya, false, ylabel) + x_axis_svg(f, xa);
  if (counts.empty()) s += no_data_svg(f);
  for (size_t i = 0; i < counts.size() && i + 1 < edges.size(); ++i) {
    const double xa0 = f.map_x(xa, edges[i]), xa1 = f.map_x(xa, edges[i + 1]), y = f.map_y(ya, counts[i]);
    const double gap = xa1 - xa0 > 4 ? 1 : 0;
    s += "<rect class=\"bar\" data-value=\"" + printf_string("%.17g", counts[i]) + "\" x=\"" + coord(xa0 + gap) + "\" y=\"" + coord(y) +
         "\" width=\"" + coord(std::max(0.5, xa1 - xa0 - 2 * gap)) + "\" height=\"" + coord(f.y0() - y) + "\"><title>" +
         esc(num(edges[i]) + "\xE2\x80\x93" + num(edges[i + 1]) + " " + unit + ": " + num(counts[i], 12)) + "</title></rect>";
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

struct Series {
  std::string name;
  std::vector<double> x, y;  // y NaN: a gap
  bool dashed = false;
};

std::string line_chart(const std::string& id, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                       const std::vector<Series>& series, double marker_x = kNaN, const std::string& marker_label = "") {
  Frame f;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  size_t points = 0;
  for (const Series& se : series)
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      if (!std::isfinite(se.x[i]) || !std::isfinite(se.y[i])) continue;
      xmin = std::min(xmin, se.x[i]), xmax = std::max(xmax, se.x[i]);
      ymin = std::min(ymin, se.y[i]), ymax = std::max(ymax, se.y[i]);
      ++points;
    }
  if (points == 0) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  const Axis xa = nice_axis(xmin, xmax, 8, false, true);  // epochs
  const Axis ya = nice_axis(ymin, ymax, 5, false);
  std::string s = svg_open(id, title, f) + y_axis_svg(f, ya, false, ylabel) + x_axis_svg(f, xa);
  if (points == 0) s += no_data_svg(f);
  if (std::isfinite(marker_x) && points > 0) {
    const std::string x = coord(f.map_x(xa, marker_x));
    s += "<line class=\"marker\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" + coord(f.y1()) + "\"/>";
    const double mx = f.map_x(xa, marker_x);
    const bool right_half = mx > (f.x0() + f.x1()) / 2;  // label on the side with room
    s += "<text class=\"marker-label\" x=\"" + coord(right_half ? mx - 4 : mx + 4) + "\" y=\"" + coord(f.y1() + 12) + "\" text-anchor=\"" +
         (right_half ? "end" : "start") + "\">" + esc(marker_label) + "</text>";
  }
  double legend_x = f.x0();
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& se = series[k];
    const std::string color = kPalette[k % (sizeof kPalette / sizeof kPalette[0])];
    const std::string dash = se.dashed ? " stroke-dasharray=\"5 3\"" : "";
    std::string pts;
    size_t in_run = 0, drawn = 0;
    auto flush = [&]() {
      if (in_run >= 2)
        s += "<polyline class=\"line\" data-series=\"" + esc(se.name) + "\" fill=\"none\" stroke=\"" + color + "\"" + dash + " points=\"" + pts + "\"/>";
      pts.clear();
      in_run = 0;
    };
    std::string dots;
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      if (!std::isfinite(se.x[i]) || !std::isfinite(se.y[i])) {
        flush();
        continue;
      }
      const double px = f.map_x(xa, se.x[i]), py = f.map_y(ya, se.y[i]);
      pts += (pts.empty() ? "" : " ") + coord(px) + "," + coord(py);
      ++in_run;
      ++drawn;
      dots += "<circle class=\"point\" cx=\"" + coord(px) + "\" cy=\"" + coord(py) + "\" r=\"2.5\" fill=\"" + color + "\"><title>" +
              esc(se.name + " @ " + num(se.x[i], 8) + ": " + num(se.y[i], 6)) + "</title></circle>";
    }
    flush();
    if (drawn <= 120) s += dots;  // points (with their values as tooltips) while they stay readable
    // Legend: a row in the top margin.
    s += "<line x1=\"" + coord(legend_x) + "\" x2=\"" + coord(legend_x + 18) + "\" y1=\"36\" y2=\"36\" stroke=\"" + color +
         "\" stroke-width=\"2\"" + dash + "/><text class=\"legend\" x=\"" + coord(legend_x + 22) + "\" y=\"40\">" + esc(se.name) + "</text>";
    legend_x += 34 + 6.5 * static_cast<double>(se.name.size());
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

// ----------------------------------------------------------- tables ----

using Row = std::pair<std::string, std::string>;  // label (plain), value (HTML)

std::string stats_table(const std::string& id, const std::vector<Row>& rows) {
  std::string s = "<table class=\"stats\" data-table=\"" + esc(id) + "\">";
  for (const Row& r : rows) s += "<tr><th>" + esc(r.first) + "</th><td>" + r.second + "</td></tr>";
  return s + "</table>\n";
}

// ---------------------------------------------------------- sections ----

struct Section {
  int phase = 0;
  std::string title;  // plain text
  std::string dir;
  std::string body;   // HTML
};

struct Counters {
  int charts = 0, clips = 0, skipped_audio = 0;
};

std::string to_s(const fs::path& p) { return p.string(); }

// --- phase 0 ---------------------------------------------------------------

Section segments_section(const fs::path& dir, Counters& n) {
  const std::string path = to_s(dir / "segments.jsonl");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  const JsonFile jf{path};
  std::vector<double> durations;
  std::vector<std::string> sources;                           // in order of appearance
  std::map<std::string, std::pair<int64_t, double>> per_source;  // segments, seconds
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(line_no);
    json rec;
    try {
      rec = json::parse(line);
    } catch (const json::exception& e) {
      jf.fail(where, std::string("not valid JSON: ") + e.what());
    }
    jf.object(rec, where);
    const double start = jf.number(rec, "start", where), end = jf.number(rec, "end", where);
    if (end < start) jf.fail(where, "\"end\" is before \"start\"");
    if (!std::isfinite(end - start)) jf.fail(where, "\"start\" or \"end\" is out of range");
    durations.push_back(end - start);
    const std::string src = jf.opt_string(rec, "source", where).value_or("");
    auto& ps = per_source[src];
    if (ps.first++ == 0) sources.push_back(src);
    ps.second += end - start;
  }
  if (in.bad()) throw file_error(path, "read error");

  Section sec{0, "Phase 0 \xC2\xB7 segments", to_s(dir), ""};
  std::vector<double> sorted = durations;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (double d : durations) total += d;
  const size_t count = durations.size();
  auto quantile = [&](double q) { return count ? sorted[std::min(count - 1, static_cast<size_t>(q * static_cast<double>(count)))] : kNaN; };
  sec.body += stats_table("segments", {
      {"segments", integer(static_cast<int64_t>(count))},
      {"recordings", integer(static_cast<int64_t>(sources.size()))},
      {"total duration", duration_text(total)},
      {"mean length", count ? fixed(total / static_cast<double>(count), 2) + " s" : num(kNaN)},
      {"median length", count ? fixed(quantile(0.5), 2) + " s" : num(kNaN)},
      {"shortest / longest", count ? fixed(sorted.front(), 2) + " s / " + fixed(sorted.back(), 2) + " s" : num(kNaN)},
  });
  // Bins of a round width, about 30 of them, from 0.
  const double longest = count ? sorted.back() : 0;
  const double width = nice_step(std::max(longest, 0.1) / 30);
  const size_t bins = std::max<size_t>(1, std::min<size_t>(200, static_cast<size_t>(std::floor(longest / width)) + 1));
  std::vector<double> edges(bins + 1), counts(bins, 0);
  for (size_t i = 0; i <= bins; ++i) edges[i] = width * static_cast<double>(i);
  for (double d : durations) counts[std::min(bins - 1, static_cast<size_t>(std::max(0.0, d / width)))] += 1;
  sec.body += figure(histogram_chart("segment-lengths", "Segment lengths", "length (s)", "segments", edges, counts, "s"),
                     "Length of each segment of <code>segments.jsonl</code> (<code>end \xE2\x88\x92 start</code>, padding included), in bins of " +
                         num(width) + " s.");
  ++n.charts;

  // Segments per recording (the first 50).
  constexpr size_t kRecordings = 50;
  std::string table = "<h3>Recordings</h3>\n<table class=\"recordings\" data-table=\"recordings\"><thead><tr><th>recording</th><th>segments</th>"
                      "<th>seconds in segments</th></tr></thead><tbody>";
  for (size_t i = 0; i < sources.size() && i < kRecordings; ++i) {
    const auto& ps = per_source[sources[i]];
    table += "<tr><td><code>" + (sources[i].empty() ? std::string("(no source)") : esc(sources[i])) + "</code></td><td>" + integer(ps.first) +
             "</td><td>" + fixed(ps.second, 1) + "</td></tr>";
  }
  table += "</tbody></table>\n";
  if (sources.size() > kRecordings) table += "<p class=\"note\">The first " + std::to_string(kRecordings) + " of " + std::to_string(sources.size()) + " recordings.</p>\n";
  sec.body += table;
  return sec;
}

// --- phase 1 ---------------------------------------------------------------

// After a feature model that the outputs mark as a random-weight stand-in.
constexpr const char* kStandInNote =
    " <strong>(a random-weight stand-in, not a trained model: these units only demonstrate the pipeline)</strong>";

struct UnitStats {
  std::string path;  // the file the units came from
  std::optional<int64_t> k, layer;
  std::optional<double> frame_rate;
  std::optional<std::string> feature_model;
  bool stand_in = false;  // feature_model_stand_in: random weights (models/make_demo_model.py)
  std::vector<int64_t> counts;      // frames per unit id
  std::map<int64_t, int64_t> runs;  // run length (frames) -> runs
  int64_t segments = 0, frames = 0, empty_segments = 0;
  int64_t prev = -1, run = 0;  // the run in progress

  void begin_segment() {
    ++segments;
    prev = -1;
    run = 0;
  }
  // `n` frames of unit u (a run of a reduced corpus at once).
  void unit(int64_t u, int64_t n = 1) {
    if (static_cast<size_t>(u) >= counts.size()) counts.resize(static_cast<size_t>(u) + 1, 0);
    counts[static_cast<size_t>(u)] += n;
    frames += n;
    if (u == prev) {
      run += n;
    } else {
      if (run > 0) ++runs[run];
      prev = u;
      run = n;
    }
  }
  void end_segment() {
    if (run > 0) ++runs[run];
    else ++empty_segments;
    prev = -1;
    run = 0;
  }
};

// Streams corpus_timestamped.json: the header fields and every segment's
// units, never the whole document. A reduced corpus (units --dedup) has one
// unit per run and each run's frames in "durations": its statistics count
// the frames, as those of the frame units it came from (one segment is held
// until its object ends, since "durations" follows "units").
class CorpusSax {
 public:
  CorpusSax(std::string path, UnitStats& stats) : path_(std::move(path)), st_(stats) {}

  bool null() { return value(Kind::Null, 0, nullptr); }
  bool boolean(bool b) {
    if (!stack_.empty() && stack_.back().role == Role::Top && stack_.back().key == "feature_model_stand_in") st_.stand_in = b;
    return value(Kind::Other, 0, nullptr);
  }
  bool number_integer(json::number_integer_t v) { return value(Kind::Int, v, nullptr); }
  bool number_unsigned(json::number_unsigned_t v) {
    return value(Kind::Int, v > static_cast<json::number_unsigned_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                                                             : static_cast<int64_t>(v),
                 nullptr);
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    float_ = v;
    return value(Kind::Float, 0, nullptr);
  }
  bool string(json::string_t& v) { return value(Kind::String, 0, &v); }
  bool binary(json::binary_t&) { return value(Kind::Other, 0, nullptr); }
  bool start_object(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    stack_.back().key = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    throw file_error(path_, std::string("not valid JSON: ") + e.what());
  }

  void finish() const {
    if (!seen_top_) throw file_error(path_, "expected a JSON object");
    if (!seen_segments_) throw file_error(path_, "missing \"segments\"");
  }

 private:
  enum class Role { Top, Segments, Segment, Units, Durations, Ignore };
  enum class Kind { Null, Int, Float, String, Other };
  struct Level {
    Role role;
    std::string key;
  };

  [[noreturn]] void fail(const std::string& where, const std::string& what) const { throw file_error(path_, where + ": " + what); }
  std::string segment_where() const { return "segments[" + std::to_string(st_.segments - 1) + "]"; }
  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::Null: return "null";
      case Kind::Int: return "an integer";
      case Kind::Float: return "a number";
      case Kind::String: return "a string";
      default: return "another type";
    }
  }

  bool open(bool is_object) {
    if (stack_.empty()) {
      if (!is_object) fail("the document", "expected an object, found an array");
      seen_top_ = true;
      stack_.push_back({Role::Top, ""});
      return true;
    }
    const Level& l = stack_.back();
    Role role = Role::Ignore;
    if (l.role == Role::Top && l.key == "segments") {
      if (is_object) fail("segments", "expected an array, found an object");
      seen_segments_ = true;
      role = Role::Segments;
    } else if (l.role == Role::Segments) {
      st_.begin_segment();
      if (!is_object) fail(segment_where(), "expected an object, found an array");
      role = Role::Segment;
    } else if (l.role == Role::Segment && l.key == "units") {
      if (is_object) fail(segment_where() + ".units", "expected an array, found an object");
      role = Role::Units;
      unit_index_ = 0;
      seen_units_ = true;
    } else if (l.role == Role::Segment && l.key == "durations") {
      if (is_object) fail(segment_where() + ".durations", "expected an array, found an object");
      role = Role::Durations;
      seen_durations_ = true;
    } else if (l.role == Role::Units || l.role == Role::Durations) {
      fail(segment_where() + ".units[" + std::to_string(unit_index_) + "]", "expected a unit id, found a nested list or object");
    } else if (l.role == Role::Top && (l.key == "k" || l.key == "layer" || l.key == "frame_rate" || l.key == "feature_model")) {
      fail(l.key, "expected a single value, found a list or object");
    }
    stack_.push_back({role, ""});
    return true;
  }

  bool close() {
    const Role role = stack_.back().role;
    stack_.pop_back();
    if (role == Role::Segment) end_segment();
    return true;
  }

  // The segment's units, each for its run's frames when it has durations.
  void end_segment() {
    if (seen_durations_ && durations_.size() != units_.size())
      fail(segment_where() + ".durations", "has " + std::to_string(durations_.size()) + " run lengths for " +
                                               std::to_string(units_.size()) + " units");
    for (size_t i = 0; i < units_.size(); ++i) st_.unit(units_[i], seen_durations_ ? durations_[i] : 1);
    if (seen_units_) st_.end_segment();
    units_.clear();
    durations_.clear();
    seen_units_ = seen_durations_ = false;
  }

  bool value(Kind kind, int64_t i, const std::string* s) {
    if (stack_.empty()) fail("the document", std::string("expected an object, found ") + kind_name(kind));
    const Level& l = stack_.back();
    switch (l.role) {
      case Role::Top:
        if (l.key == "k") {
          if (kind != Kind::Int || i < 1 || i > kMaxUnitId) fail("k", "expected an integer from 1 to 65535");
          st_.k = i;
        } else if (l.key == "layer") {
          if (kind != Kind::Int && kind != Kind::Null) fail("layer", std::string("expected an integer, found ") + kind_name(kind));
          if (kind == Kind::Int) st_.layer = i;
        } else if (l.key == "frame_rate") {
          if (kind == Kind::Int && i > 0) st_.frame_rate = static_cast<double>(i);
          else if (kind == Kind::Float && float_ > 0) st_.frame_rate = float_;
          else if (kind != Kind::Null) fail("frame_rate", "expected a positive number");
        } else if (l.key == "feature_model") {
          if (kind == Kind::String) st_.feature_model = *s;
          else if (kind != Kind::Null) fail("feature_model", std::string("expected a string, found ") + kind_name(kind));
        } else if (l.key == "segments") {
          fail("segments", std::string("expected an array, found ") + kind_name(kind));
        }
        break;
      case Role::Segments:
        st_.begin_segment();
        fail(segment_where(), std::string("expected an object, found ") + kind_name(kind));
      case Role::Segment:
        if ((l.key == "units" || l.key == "durations") && kind != Kind::Null)
          fail(segment_where() + "." + l.key, std::string("expected an array, found ") + kind_name(kind));
        break;
      case Role::Units:
        if (kind != Kind::Int || i < 0 || i > kMaxUnitId)
          fail(segment_where() + ".units[" + std::to_string(unit_index_) + "]",
               std::string("expected a unit id (an integer from 0 to 65535), found ") +
                   (kind == Kind::Int ? std::to_string(i) : std::string(kind_name(kind))));
        units_.push_back(i);
        ++unit_index_;
        break;
      case Role::Durations:
        if (kind != Kind::Int || i < 1 || i > kMaxRunFrames_)
          fail(segment_where() + ".durations[" + std::to_string(durations_.size()) + "]",
               std::string("expected a run length (an integer from 1 to 65535), found ") +
                   (kind == Kind::Int ? std::to_string(i) : std::string(kind_name(kind))));
        durations_.push_back(i);
        break;
      case Role::Ignore:
        break;
    }
    return true;
  }

  std::string path_;
  UnitStats& st_;
  std::vector<Level> stack_;
  double float_ = 0;
  int64_t unit_index_ = 0;
  bool seen_top_ = false, seen_segments_ = false;
  static constexpr int64_t kMaxRunFrames_ = 65535;  // a run longer is several entries
  std::vector<int64_t> units_, durations_;  // of the open segment
  bool seen_units_ = false, seen_durations_ = false;
};

UnitStats read_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  UnitStats st;
  st.path = path;
  CorpusSax sax(path, st);
  try {
    json::sax_parse(in, &sax);
  } catch (const json::exception& e) {
    throw file_error(path, std::string("not valid JSON: ") + e.what());
  }
  sax.finish();
  return st;
}

// all_units_for_bpe.txt: one line of unit ids per segment.
UnitStats read_units_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  UnitStats st;
  st.path = path;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    st.begin_segment();
    size_t i = 0;
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    while (i < line.size()) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      int64_t v = 0;
      bool ok = true;
      while (j < line.size() && !is_space(line[j])) {
        if (line[j] < '0' || line[j] > '9' || v > kMaxUnitId) ok = false;
        else v = v * 10 + (line[j] - '0');
        ++j;
      }
      if (!ok || v > kMaxUnitId)
        throw file_error(path, "line " + std::to_string(line_no) + ": '" + line.substr(i, std::min<size_t>(j - i, 40)) +
                                   "' is not a unit id (an integer from 0 to 65535)");
      st.unit(v);
      i = j;
    }
    st.end_segment();
  }
  if (in.bad()) throw file_error(path, "read error");
  return st;
}

Section units_section(const fs::path& dir, bool corpus, bool units_txt, bool kmeans, Counters& n) {
  Section sec{1, "Phase 1 \xC2\xB7 units", to_s(dir), ""};
  if (kmeans) {
    const std::string path = to_s(dir / "kmeans.safetensors");
    SafetensorsFile km(path);
    const auto& meta = km.metadata();
    auto field = [&](const char* key) {
      const auto it = meta.find(key);
      return it == meta.end() ? num(kNaN) : esc(it->second);
    };
    std::string shape = num(kNaN);
    if (km.contains("centroids")) {
      const auto& c = km.at("centroids");
      shape.clear();
      for (size_t i = 0; i < c.shape.size(); ++i) shape += (i ? " \xC3\x97 " : "") + std::to_string(c.shape[i]);
      shape += " (" + dtype_name(c.dtype) + ")";
    }
    std::string per_frame = num(kNaN);
    if (meta.count("inertia") && meta.count("frames")) {
      const double inertia = std::strtod(meta.at("inertia").c_str(), nullptr), frames = std::strtod(meta.at("frames").c_str(), nullptr);
      if (frames > 0) per_frame = num(inertia / frames);
    }
    sec.body += "<h3>k-means model <code>kmeans.safetensors</code></h3>\n";
    sec.body += stats_table("kmeans", {{"centroids", shape},
                                       {"k", field("k")},
                                       {"feature model", field("feature_model") + (meta.count("feature_model_stand_in") ? kStandInNote : "")},
                                       {"layer", field("layer")},
                                       {"frames fitted", field("frames")},
                                       {"inertia", meta.count("inertia") ? num(std::strtod(meta.at("inertia").c_str(), nullptr)) : num(kNaN)},
                                       {"inertia per frame", per_frame},
                                       {"mini-batch steps", field("steps")},
                                       {"seed", field("seed")}});
  }
  if (!corpus && !units_txt) return sec;

  const std::string name = corpus ? "corpus_timestamped.json" : "all_units_for_bpe.txt";
  const std::string path = to_s(dir / name);
  UnitStats st = corpus ? read_corpus(path) : read_units_text(path);
  const int64_t used_ids = static_cast<int64_t>(st.counts.size());
  if (st.k && used_ids > *st.k)
    throw file_error(path, "unit id " + std::to_string(used_ids - 1) + " is not below k=" + std::to_string(*st.k));
  const int64_t k = st.k.value_or(used_ids);
  const double rate = st.frame_rate.value_or(50);
  int64_t used = 0;
  double entropy = 0;
  for (int64_t c : st.counts) {
    if (c == 0) continue;
    ++used;
    const double p = static_cast<double>(c) / static_cast<double>(st.frames);
    entropy -= p * std::log2(p);
  }
  int64_t runs = 0;
  for (const auto& r : st.runs) runs += r.second;
  const double mean_run = runs ? static_cast<double>(st.frames) / static_cast<double>(runs) : kNaN;

  sec.body += "<h3>Units <code>" + esc(name) + "</code></h3>\n";
  std::vector<Row> rows;
  if (st.feature_model) rows.push_back({"feature model", esc(*st.feature_model) + (st.stand_in ? kStandInNote : "")});
  if (st.layer) rows.push_back({"layer", integer(*st.layer)});
  rows.push_back({"k", st.k ? integer(*st.k) : integer(k) + " (highest id + 1)"});
  rows.push_back({"segments", integer(st.segments) + (st.empty_segments ? " (" + integer(st.empty_segments) + " without frames)" : "")});
  rows.push_back({"frames", integer(st.frames) + " (" + duration_text(static_cast<double>(st.frames) / rate) + " at " + num(rate) + " frames/s)"});
  rows.push_back({"units used", integer(used) + " of " + integer(k)});
  rows.push_back({"entropy of the unit distribution", num(entropy) + " bits (perplexity " + num(std::pow(2.0, entropy)) + "; " +
                                                          (k > 1 ? percent(entropy / std::log2(static_cast<double>(k))) : num(kNaN)) +
                                                          " of log2 k)"});
  rows.push_back({"mean run of one unit", num(mean_run) + " frames (" + num(mean_run * 1000 / rate) + " ms)"});
  sec.body += stats_table("units", rows);

  // Unit frequencies, most frequent first (every unit of 0..k-1, unused ones at 0).
  std::vector<std::pair<int64_t, int64_t>> order;  // (count, unit)
  for (int64_t u = 0; u < k; ++u) order.push_back({u < used_ids ? st.counts[static_cast<size_t>(u)] : 0, u});
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Bar> bars;
  const bool label_ids = k <= 60;
  for (size_t r = 0; r < order.size(); ++r) {
    const double share = st.frames ? static_cast<double>(order[r].first) / static_cast<double>(st.frames) : 0;
    bars.push_back({label_ids ? std::to_string(order[r].second) : std::to_string(r + 1), static_cast<double>(order[r].first),
                    "unit " + std::to_string(order[r].second) + ": " + std::to_string(order[r].first) + " frames (" + percent(share, 2) + ")"});
  }
  const double uniform = k > 0 ? static_cast<double>(st.frames) / static_cast<double>(k) : kNaN;
  sec.body += figure(bar_chart("unit-frequencies", "Unit frequencies", label_ids ? "unit (most frequent first)" : "rank of the unit",
                               "frames", bars, false, uniform, "uniform: " + num(uniform) + " frames"),
                     "Frames assigned to each of the " + integer(k) + " units, sorted by frequency; the dashed line is a uniform use of every unit.");
  ++n.charts;

  // Run lengths: 1..40 frames, longer ones in the last bar.
  constexpr int64_t kMaxRunBar = 40;
  int64_t longest = 0;
  for (const auto& r : st.runs) longest = std::max(longest, r.first);
  const int64_t last = std::min(longest, kMaxRunBar);
  std::vector<Bar> run_bars;
  for (int64_t len = 1; len <= last; ++len) {
    int64_t c = 0;
    if (len < kMaxRunBar || longest <= kMaxRunBar) {
      const auto it = st.runs.find(len);
      c = it == st.runs.end() ? 0 : it->second;
    } else {
      for (auto it = st.runs.lower_bound(len); it != st.runs.end(); ++it) c += it->second;
    }
    const bool tail = len == kMaxRunBar && longest > kMaxRunBar;
    const double share = runs ? static_cast<double>(c) / static_cast<double>(runs) : 0;
    run_bars.push_back({(tail ? "\xE2\x89\xA5" : "") + std::to_string(len), static_cast<double>(c),
                        (tail ? "\xE2\x89\xA5" : "") + std::to_string(len) + " frames (" + num(static_cast<double>(len) * 1000 / rate) +
                            " ms): " + std::to_string(c) + " runs (" + percent(share, 2) + ")"});
  }
  sec.body += figure(bar_chart("run-lengths", "Run lengths", "frames in a run of one unit", "runs", run_bars, false),
                     "A run is a stretch of consecutive frames with the same unit within a segment (one frame = " + num(1000 / rate) +
                         " ms); " + integer(runs) + " runs, the longest " + integer(longest) + " frames.");
  ++n.charts;
  return sec;
}

// --- phase 2 ---------------------------------------------------------------

// {"1": 4506, "2": 1782, ...} -> length -> count
std::map<int64_t, double> length_distribution(const JsonFile& jf, const json& obj, const std::string& where) {
  jf.object(obj, where);
  std::map<int64_t, double> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    int64_t len = 0;
    bool ok = !key.empty() && key.size() <= 3;
    for (char c : key) ok = ok && c >= '0' && c <= '9';
    if (ok) len = std::stoll(key);
    if (!ok || len < 1 || len > kMaxMotifLength) jf.fail(where, "\"" + key.substr(0, 40) + "\" is not a motif length (1 to 512 units)");
    if (!it.value().is_number() || it.value().get<double>() < 0)
      jf.fail(where + "." + key, std::string("expected a count, found ") + it.value().type_name());
    out[len] = it.value().get<double>();
  }
  return out;
}

std::vector<Bar> length_bars(const std::map<int64_t, double>& dist, const std::string& what) {
  std::vector<Bar> bars;
  if (dist.empty()) return bars;
  double total = 0;
  for (const auto& d : dist) total += d.second;
  for (int64_t len = 1; len <= dist.rbegin()->first; ++len) {
    const auto it = dist.find(len);
    const double c = it == dist.end() ? 0 : it->second;
    bars.push_back({std::to_string(len), c,
                    std::to_string(len) + (len == 1 ? " unit: " : " units: ") + num(c, 12) + " " + what + " (" + percent(total > 0 ? c / total : 0, 2) + ")"});
  }
  return bars;
}

Section motifs_section(const fs::path& dir, bool analysis, Counters& n) {
  Section sec{2, "Phase 2 \xC2\xB7 motifs", to_s(dir), ""};
  if (!analysis) {
    // bpe.vocab alone: the lengths of the pieces (column 3: unit ids joined by '-').
    const std::string path = to_s(dir / "bpe.vocab");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
    std::map<int64_t, double> dist;
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const size_t t2 = line.rfind('\t');
      if (t2 == std::string::npos || line.find('\t') == t2)
        throw file_error(path, "line " + std::to_string(line_no) + ": expected three tab-separated columns");
      const std::string ids = line.substr(t2 + 1);
      if (ids.empty() || ids[0] < '0' || ids[0] > '9') continue;  // <unk>, <s>, </s>, control pieces
      int64_t len = 1;
      for (char c : ids) {
        if (c == '-') ++len;
        else if (c < '0' || c > '9') throw file_error(path, "line " + std::to_string(line_no) + ": column 3 is not unit ids joined by '-'");
      }
      if (len > kMaxMotifLength) throw file_error(path, "line " + std::to_string(line_no) + ": a piece of more than 512 units");
      dist[len] += 1;
    }
    sec.body += "<p>Only <code>bpe.vocab</code> is here (no <code>motif_analysis.json</code>): the lengths of the pieces.</p>\n";
    sec.body += figure(bar_chart("motif-vocabulary-lengths", "Motif vocabulary by length", "motif length (units)", "pieces",
                                 length_bars(dist, "pieces"), false),
                       "Pieces of <code>bpe.vocab</code> by their number of units (special pieces left out).");
    ++n.charts;
    return sec;
  }

  const std::string path = to_s(dir / "motif_analysis.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.object(doc, "");
  std::string vocab_text = num(kNaN);
  if (doc.contains("vocab_size")) {
    const json& vs = jf.object(doc["vocab_size"], "vocab_size");
    vocab_text = num(jf.number_or_nan(vs, "used", "vocab_size"), 12) + " of " + num(jf.number_or_nan(vs, "requested", "vocab_size"), 12) + " requested";
    if (auto reason = jf.opt_string(vs, "reason", "vocab_size")) vocab_text += " (" + esc(*reason) + ")";
  }
  const bool dedup = jf.opt_bool(doc, "dedup", "").value_or(false);
  const double frames = jf.number_or_nan(doc, "frames", ""), units = jf.number_or_nan(doc, "units", ""),
               tokens = jf.number_or_nan(doc, "tokens", "");
  std::vector<Row> rows = {
      {"corpus", esc(jf.opt_string(doc, "corpus", "").value_or("\xE2\x80\x93"))},
      {"vocabulary", vocab_text},
      {"collapsed repeats (--dedup)", dedup ? "yes" : "no"},
      {"longest motif allowed", num(jf.number_or_nan(doc, "max_motif_length", ""), 12) + " units"},
      {"lines", num(jf.number_or_nan(doc, "lines", ""), 12)},
      {"frames / units / tokens", num(frames, 12) + " / " + num(units, 12) + " / " + num(tokens, 12)},
      {"unknown tokens", num(jf.number_or_nan(doc, "unknown_tokens", ""), 12)},
      {"coverage (frames inside motifs of 2+ units)", percent(jf.number_or_nan(doc, "coverage", ""))},
      {"units per token", num(jf.number_or_nan(doc, "units_per_token", ""))},
      {"frames per token", num(jf.number_or_nan(doc, "frames_per_token", ""))},
      {"entropy", num(jf.number_or_nan(doc, "entropy_bits", "")) + " bits (normalised " + num(jf.number_or_nan(doc, "normalized_entropy", "")) + ")"},
  };
  sec.body += stats_table("motifs", rows);

  std::map<int64_t, double> tok_dist, voc_dist;
  if (doc.contains("length_distribution")) {
    const json& ld = jf.object(doc["length_distribution"], "length_distribution");
    if (ld.contains("tokens")) tok_dist = length_distribution(jf, ld["tokens"], "length_distribution.tokens");
    if (ld.contains("vocabulary")) voc_dist = length_distribution(jf, ld["vocabulary"], "length_distribution.vocabulary");
  }
  sec.body += figure(bar_chart("motif-lengths", "Motif lengths in the encoded corpus", "motif length (units)", "tokens",
                               length_bars(tok_dist, "tokens"), false),
                     "Tokens of the encoded corpus by their length in units (<code>length_distribution.tokens</code>).");
  ++n.charts;
  sec.body += figure(bar_chart("motif-vocabulary-lengths", "Motif vocabulary by length", "motif length (units)", "pieces",
                               length_bars(voc_dist, "pieces"), false),
                     "Pieces of the model by their length in units, special pieces left out (<code>length_distribution.vocabulary</code>).");
  ++n.charts;

  // Coverage: the share of units inside motifs of at least L units.
  std::vector<Bar> cover;
  double covered_total = 0;
  for (const auto& d : tok_dist) covered_total += static_cast<double>(d.first) * d.second;
  if (covered_total > 0) {
    for (int64_t len = 2; len <= tok_dist.rbegin()->first; ++len) {
      double c = 0;
      for (auto it = tok_dist.lower_bound(len); it != tok_dist.end(); ++it) c += static_cast<double>(it->first) * it->second;
      cover.push_back({"\xE2\x89\xA5" + std::to_string(len), c / covered_total,
                       "motifs of " + std::to_string(len) + "+ units hold " + percent(c / covered_total, 2) + " of the " + (dedup ? "units" : "frames")});
    }
  }
  sec.body += figure(bar_chart("motif-coverage", "Coverage by motif length", "motifs of at least L units", dedup ? "share of units" : "share of frames",
                               cover, true),
                     std::string("Share of the corpus' ") + (dedup ? "(collapsed) units" : "frames") +
                         " that lie inside motifs of at least L units; the first bar is the coverage.");
  ++n.charts;

  // The top motifs.
  std::string table = "<table class=\"motifs\" data-table=\"top-motifs\"><thead><tr><th>#</th><th>motif (unit ids)</th><th>length</th>"
                      "<th>occurrences</th><th>share of tokens</th><th>mean duration</th><th>token id</th></tr></thead><tbody>";
  size_t shown = 0, listed = 0;
  if (doc.contains("top_motifs")) {
    const json& top = jf.array(doc["top_motifs"], "top_motifs");
    listed = top.size();
    for (size_t i = 0; i < top.size() && shown < kTopMotifs; ++i) {
      const std::string where = "top_motifs[" + std::to_string(i) + "]";
      const json& m = jf.object(top[i], where);
      const double occ = jf.number_or_nan(m, "occurrences", where);
      table += "<tr><td>" + std::to_string(i + 1) + "</td><td class=\"motif\">" + esc(jf.opt_string(m, "motif", where).value_or("?")) + "</td><td>" +
               num(jf.number_or_nan(m, "length", where), 12) + "</td><td>" + num(occ, 12) + "</td><td>" +
               percent(tokens > 0 ? occ / tokens : kNaN, 2) + "</td><td>" + fixed(jf.number_or_nan(m, "mean_duration", where) * 1000, 0) +
               " ms</td><td>" + num(jf.number_or_nan(m, "token_id", where), 12) + "</td></tr>";
      ++shown;
    }
  }
  table += "</tbody></table>\n";
  sec.body += "<h3>Top motifs</h3>\n<p>The " + std::to_string(shown) + " most frequent motifs of two units or more" +
              (listed > shown ? " (of the " + std::to_string(listed) + " listed in <code>motif_analysis.json</code>)" : "") + ".</p>\n" + table;
  return sec;
}

// --- phase 3: training -------------------------------------------------------

// An <audio> player of the first `seconds` of x.
std::string player_html(const std::string& label, const std::vector<float>& x, double seconds, Counters& n) {
  const size_t cap = static_cast<size_t>(std::max(0.0, seconds) * kSampleRate);
  const bool cut = x.size() > cap;
  ++n.clips;
  return "<div class=\"player\"><span>" + esc(label) +
         (cut ? " (first " + num(seconds) + " s of " + fixed(static_cast<double>(x.size()) / kSampleRate, 1) + " s)" : "") +
         "</span><audio controls preload=\"auto\" src=\"data:audio/wav;base64," + base64(wav_bytes(x, cap)) + "\"></audio></div>";
}

// A WAV file read for the report; an unreadable one is reported (exit
// status 1) and becomes a note on the page.
bool read_wav_for_report(const std::string& path, std::vector<float>& x, std::string& note, Counters& n) {
  try {
    x = read_audio_16k_mono(path);
    return true;
  } catch (const Error& e) {
    std::fprintf(stderr, "acoustok: %s (skipped)\n", e.what());
    ++n.skipped_audio;
    note = "<p class=\"note\">" + esc(e.what()) + "</p>";
    return false;
  }
}

Section training_section(const fs::path& dir, const ReportArgs& args, Counters& n) {
  Section sec{3, "Phase 3 \xC2\xB7 vocoder training", to_s(dir), ""};
  const std::string path = to_s(dir / "training_log.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.array(doc, "the document");
  const char* const keys[] = {"loss_g", "loss_mel", "loss_d", "loss_adv", "loss_fm", "heldout_mel", "heldout_mcd"};
  std::map<std::string, std::vector<double>> v;
  std::vector<double> epochs;
  double seconds = 0, best_epoch = kNaN, best = kNaN, lr = kNaN, patience = kNaN, patience_limit = kNaN, steps = kNaN;
  int warnings = 0;
  std::string metric = "mel";
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = "[" + std::to_string(i) + "]";
    const json& r = jf.object(doc[i], where);
    epochs.push_back(jf.number(r, "epoch", where));
    for (const char* k : keys) v[k].push_back(jf.number_or_nan(r, k, where));
    seconds += jf.opt_number(r, "seconds", where).value_or(0);
    if (auto b = jf.opt_number(r, "best_epoch", where)) best_epoch = *b;
    if (auto b = jf.opt_number(r, "best_heldout", where)) best = *b;
    else if (auto b2 = jf.opt_number(r, "best_heldout_mel", where)) best = *b2;
    if (auto m = jf.opt_string(r, "early_stop_metric", where)) metric = *m;
    lr = jf.number_or_nan(r, "lr", where);
    patience = jf.number_or_nan(r, "patience", where);
    patience_limit = jf.number_or_nan(r, "patience_limit", where);
    steps = jf.number_or_nan(r, "steps", where);
    if (jf.opt_string(r, "warning", where)) ++warnings;
  }
  sec.body += stats_table("training", {
      {"epochs logged", integer(static_cast<int64_t>(epochs.size())) + (epochs.empty() ? "" : " (last: " + num(epochs.back(), 12) + ")")},
      {"steps per epoch", num(steps, 12)},
      {"best held-out " + metric, num(best) + (std::isfinite(best_epoch) ? " at epoch " + num(best_epoch, 12) : "")},
      {"patience", num(patience, 12) + " of " + num(patience_limit, 12) + " epochs"},
      {"learning rate (last epoch)", num(lr)},
      {"training time", duration_text(seconds)},
      {"epochs with a discriminator-collapse warning", integer(warnings)},
  });
  auto series = [&](const char* key, bool dashed = false) { return Series{key, epochs, v[key], dashed}; };
  const std::string best_label = std::isfinite(best_epoch) ? "best epoch " + num(best_epoch, 12) : "";
  sec.body += figure(line_chart("generator-losses", "Generator losses", "epoch", "loss (mean over the epoch)",
                                {series("loss_g"), series("loss_mel")}),
                     "<code>loss_g</code> = <code>loss_mel</code> + <code>loss_fm</code> + <code>loss_adv</code>; "
                     "<code>loss_mel</code> is 45 \xC3\x97 L1 between log-mel spectrograms.");
  sec.body += figure(line_chart("discriminator-losses", "Adversarial losses", "epoch", "loss (mean over the epoch)",
                                {series("loss_d"), series("loss_adv"), series("loss_fm")}),
                     "Discriminator loss, the generator's adversarial loss and its feature-matching loss.");
  sec.body += figure(line_chart("heldout-mel", "Held-out mel loss", "epoch", "45 \xC3\x97 L1 log-mel",
                                {series("heldout_mel"), series("loss_mel", true)}, best_epoch, best_label),
                     "Mel loss of the synthesis of the held-out segments after each epoch, with the training mel loss (dashed) for comparison.");
  n.charts += 3;
  bool any_mcd = false;
  for (double x : v["heldout_mcd"]) any_mcd = any_mcd || std::isfinite(x);
  if (any_mcd) {
    sec.body += figure(line_chart("heldout-mcd", "Held-out mel-cepstral distortion", "epoch", "MCD (dB)", {series("heldout_mcd")}, best_epoch,
                                  metric == "mcd" ? best_label : ""),
                       "MCD of the held-out segments' synthesis after each epoch (lower is better).");
    ++n.charts;
  }

  // The latest sample_epoch_XXXX.wav, if any.
  if (args.audio_seconds > 0) {
    std::vector<std::string> samples;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind("sample_epoch_", 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".wav") == 0 &&
          name.find(".tmp-") == std::string::npos)
        samples.push_back(name);
    }
    if (!samples.empty()) {
      std::sort(samples.begin(), samples.end());
      std::vector<float> x;
      std::string html;
      if (read_wav_for_report(to_s(dir / samples.back()), x, html, n)) html = player_html(samples.back(), x, args.audio_seconds, n);
      sec.body += "<h3>Latest training sample</h3>\n<p>Synthesis of the first held-out segment written during training.</p>\n" + html + "\n";
    }
  }
  return sec;
}

// --- phase 3: vocoder test ----------------------------------------------------

struct Spectrogram {
  int rows = 80, cols = 0;
  double seconds = 0;
  std::vector<double> db;  // [col * rows + row], row 0 = lowest band
};

// Log-mel power: 1024-point FFT of periodic-Hann frames every 256 samples,
// 80 HTK bands 0-8 kHz, averaged over groups of frames down to max_cols columns.
Spectrogram mel_spectrogram(const std::vector<float>& x, int max_cols) {
  constexpr int kFft = 1024, kHop = 256, kMels = 80, kBins = kFft / 2 + 1;
  static const std::vector<float> window = audio::hann_periodic(kFft);
  static const std::vector<float> bank = audio::htk_mel_filterbank(kFft, kMels, kSampleRate, 0, kSampleRate / 2.0);
  Spectrogram sp;
  sp.seconds = static_cast<double>(x.size()) / kSampleRate;
  const size_t frames = x.size() <= static_cast<size_t>(kFft) ? 1 : (x.size() - kFft) / kHop + 1;
  const size_t group = std::max<size_t>(1, (frames + static_cast<size_t>(max_cols) - 1) / static_cast<size_t>(max_cols));
  sp.cols = static_cast<int>((frames + group - 1) / group);
  std::vector<double> power(static_cast<size_t>(sp.cols) * kMels, 0.0), count(static_cast<size_t>(sp.cols), 0.0);
  Eigen::FFT<float> fft;
  std::vector<float> buf(kFft);
  std::vector<std::complex<float>> spec;
  std::vector<double> bins(kBins);
  for (size_t t = 0; t < frames; ++t) {
    const size_t start = t * kHop;
    for (int i = 0; i < kFft; ++i) {
      const size_t j = start + static_cast<size_t>(i);
      buf[static_cast<size_t>(i)] = j < x.size() ? x[j] * window[static_cast<size_t>(i)] : 0.0f;
    }
    fft.fwd(spec, buf);
    for (int k = 0; k < kBins; ++k) bins[static_cast<size_t>(k)] = std::norm(spec[static_cast<size_t>(k)]);
    const size_t col = t / group;
    for (int m = 0; m < kMels; ++m) {
      double e = 0;
      const float* w = bank.data() + static_cast<size_t>(m) * kBins;
      for (int k = 0; k < kBins; ++k) e += w[k] * bins[static_cast<size_t>(k)];
      power[col * kMels + static_cast<size_t>(m)] += e;
    }
    count[col] += 1;
  }
  sp.db.resize(power.size());
  for (size_t c = 0; c < static_cast<size_t>(sp.cols); ++c)
    for (size_t m = 0; m < kMels; ++m) sp.db[c * kMels + m] = 10 * std::log10(power[c * kMels + m] / std::max(1.0, count[c]) + 1e-10);
  return sp;
}

std::string spectrogram_svg(const std::string& id, const std::string& title, const Spectrogram& sp, double top_db) {
  constexpr double kRange = 80;  // dB shown below the pair's maximum
  std::vector<uint8_t> rgb(static_cast<size_t>(sp.cols) * static_cast<size_t>(sp.rows) * 3);
  for (int y = 0; y < sp.rows; ++y)
    for (int c = 0; c < sp.cols; ++c) {
      const double v = sp.db[static_cast<size_t>(c) * static_cast<size_t>(sp.rows) + static_cast<size_t>(sp.rows - 1 - y)];
      viridis((v - (top_db - kRange)) / kRange, &rgb[(static_cast<size_t>(y) * static_cast<size_t>(sp.cols) + static_cast<size_t>(c)) * 3]);
    }
  const std::string png = encode_png_rgb(sp.cols, sp.rows, rgb);
  Frame f;
  f.width = 440, f.height = 230, f.left = 52, f.right = 10, f.top = 30, f.bottom = 42;
  const Axis ta = nice_axis(0, std::max(sp.seconds, 0.01), 6, true);
  Axis time_axis = ta;
  time_axis.hi = std::max(sp.seconds, 0.01);  // the image spans exactly the signal
  time_axis.ticks.erase(std::remove_if(time_axis.ticks.begin(), time_axis.ticks.end(), [&](double t) { return t > time_axis.hi + 1e-9; }),
                        time_axis.ticks.end());
  std::string s = svg_open(id, title, f);
  s += "<image x=\"" + coord(f.x0()) + "\" y=\"" + coord(f.y1()) + "\" width=\"" + coord(f.x1() - f.x0()) + "\" height=\"" +
       coord(f.y0() - f.y1()) + "\" preserveAspectRatio=\"none\" href=\"data:image/png;base64," + base64(png) + "\"/>";
  // Frequency ticks at their mel position.
  auto mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  for (double hz : {0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0}) {
    const double y = f.y0() - mel(hz) / mel(8000.0) * (f.y0() - f.y1());
    s += "<line class=\"tick-mark\" x1=\"" + coord(f.x0() - 4) + "\" x2=\"" + coord(f.x0()) + "\" y1=\"" + coord(y) + "\" y2=\"" + coord(y) + "\"/>";
    s += "<text class=\"tick\" x=\"" + coord(f.x0() - 6) + "\" y=\"" + coord(y + 4) + "\" text-anchor=\"end\">" +
         (hz >= 1000 ? num(hz / 1000) + "k" : num(hz)) + "</text>";
  }
  s += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(12," + coord((f.y0() + f.y1()) / 2) + ") rotate(-90)\">Hz (mel scale)</text>";
  s += x_axis_svg(f, time_axis) + x_label_svg(f, "time (s)") + "</svg>";
  return s;
}

bool plain_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-')) return false;
  return true;
}

Section test_section(const fs::path& dir, const ReportArgs& args, Counters& n) {
  Section sec{3, "Phase 3 \xC2\xB7 vocoder test", to_s(dir), ""};
  const std::string path = to_s(dir / "metrics.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.object(doc, "");
  if (!doc.contains("samples")) jf.fail("", "missing \"samples\"");
  const json& samples = jf.array(doc["samples"], "samples");
  struct Column {
    const char* key;
    const char* head;
    int decimals;
  };
  static const Column kColumns[] = {{"snr_db", "SNR dB", 2},          {"mcd_db", "MCD dB", 2},      {"length_ratio", "length", 4},
                                    {"gpe", "GPE", 3},                {"vde", "VDE", 3},            {"ffe", "FFE", 3},
                                    {"f0_rmse_hz", "F0 RMSE Hz", 1},  {"voicing_error", "V/UV err", 3}, {"unit_agreement", "unit agr", 3}};
  const json empty = json::object();
  const json& mean = doc.contains("mean") && !doc["mean"].is_null() ? jf.object(doc["mean"], "mean") : empty;
  std::vector<const Column*> cols;
  for (const Column& c : kColumns) {
    bool present = mean.contains(c.key);
    for (const json& s : samples) present = present || (s.is_object() && s.contains(c.key));
    if (present) cols.push_back(&c);
  }
  if (auto ck = jf.opt_string(doc, "checkpoint", "")) sec.body += "<p>Checkpoint: <code>" + esc(*ck) + "</code></p>\n";

  std::string table = "<table class=\"metrics\" data-table=\"vocoder-metrics\"><thead><tr><th>sample</th><th>segment</th><th>units</th>";
  for (const Column* c : cols) table += std::string("<th>") + c->head + "</th>";
  table += "</tr></thead><tbody>";
  std::vector<std::string> names;
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string where = "samples[" + std::to_string(i) + "]";
    const json& s = jf.object(samples[i], where);
    const std::string name = jf.opt_string(s, "name", where).value_or("");
    names.push_back(name);
    table += "<tr><td>" + esc(name) + "</td><td>" + esc(jf.opt_string(s, "segment", where).value_or("")) + "</td><td>" +
             num(jf.number_or_nan(s, "units", where), 12) + "</td>";
    for (const Column* c : cols) table += "<td>" + fixed(jf.number_or_nan(s, c->key, where), c->decimals) + "</td>";
    table += "</tr>";
  }
  if (!mean.empty()) {
    table += "<tr class=\"mean\"><td>mean</td><td></td><td></td>";
    for (const Column* c : cols) table += "<td>" + fixed(jf.number_or_nan(mean, c->key, "mean"), c->decimals) + "</td>";
    table += "</tr>";
  }
  table += "</tbody></table>\n";
  sec.body += table + "<p class=\"note\">Definitions: docs/metrics.md. \xE2\x80\x93: undefined.</p>\n";

  const size_t shown = std::min(names.size(), static_cast<size_t>(std::max(0, args.samples)));
  if (shown == 0) return sec;
  sec.body += "<h3>Recordings and their synthesis</h3>\n<p>Log-mel spectrograms (80 bands, 0\xE2\x80\x93" "8 kHz, " "80 dB below the loudest cell of each pair) of ";
  sec.body += shown < names.size() ? "the first " + std::to_string(shown) + " of " + std::to_string(names.size()) + " samples (<code>--samples</code>)"
                                   : "every sample";
  sec.body += args.audio_seconds > 0 ? "; the players hold the first " + num(args.audio_seconds) + " s of each file (<code>--audio-seconds</code>).</p>\n"
                                     : "; no audio embedded (<code>--audio-seconds 0</code>).</p>\n";
  for (size_t i = 0; i < shown; ++i) {
    const std::string& name = names[i];
    sec.body += "<div class=\"sample\" data-sample=\"" + esc(name) + "\"><h4>sample " + esc(name) + "</h4>\n";
    if (!plain_name(name)) {
      sec.body += "<p class=\"note\">The sample's name is not a plain file name part: its WAV files are not looked up.</p></div>\n";
      continue;
    }
    std::vector<float> audio[2];
    bool have[2] = {false, false};
    std::string players;
    const char* const kinds[2] = {"orig", "synth"};
    for (int w = 0; w < 2; ++w) {
      const std::string file = std::string(kinds[w]) + "_" + name + ".wav";
      const std::string wav = to_s(dir / file);
      std::error_code ec;
      if (!fs::is_regular_file(wav, ec)) {
        players += "<p class=\"note\">" + esc(file) + " is missing.</p>";
        continue;
      }
      std::string note;
      have[w] = read_wav_for_report(wav, audio[w], note, n);
      if (!have[w]) players += note;
      else if (args.audio_seconds > 0) players += player_html(file, audio[w], args.audio_seconds, n);
    }
    Spectrogram sp[2];
    double top = -std::numeric_limits<double>::infinity();
    for (int w = 0; w < 2; ++w)
      if (have[w]) {
        sp[w] = mel_spectrogram(audio[w], 300);
        for (double d : sp[w].db) top = std::max(top, d);
      }
    sec.body += "<div class=\"pair\">";
    for (int w = 0; w < 2; ++w)
      if (have[w]) {
        sec.body += "<figure class=\"chart-box\">" +
                    spectrogram_svg(std::string("spectrogram-") + kinds[w] + "-" + name,
                                    std::string(w == 0 ? "recording " : "synthesis ") + kinds[w] + "_" + name + ".wav", sp[w], top) +
                    "</figure>";
        ++n.charts;
      }
    sec.body += "</div>\n<div class=\"players\">" + players + "</div></div>\n";
  }
  return sec;
}

// ------------------------------------------------------------ the page ----

struct Found {
  fs::path dir;
  bool segments = false, corpus = false, units_txt = false, kmeans = false, analysis = false, vocab = false, log = false, metrics = false;
  bool any() const { return segments || corpus || units_txt || kmeans || analysis || vocab || log || metrics; }
};

Found probe(const fs::path& dir) {
  Found f;
  f.dir = dir;
  auto has = [&](const char* name) {
    std::error_code ec;
    return fs::is_regular_file(dir / name, ec);
  };
  f.segments = has("segments.jsonl");
  f.corpus = has("corpus_timestamped.json");
  f.units_txt = has("all_units_for_bpe.txt");
  f.kmeans = has("kmeans.safetensors");
  f.analysis = has("motif_analysis.json");
  f.vocab = has("bpe.vocab");
  f.log = has("training_log.json");
  f.metrics = has("metrics.json");
  return f;
}

const char kStyle[] = R"CSS(
body { font: 14px/1.45 "DejaVu Sans", Arial, sans-serif; color: #222; max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; border-bottom: 2px solid #4e79a7; padding-bottom: 4px; margin-top: 36px; }
h2 .dir, .meta code { font-weight: normal; font-size: 13px; color: #555; }
h3 { font-size: 15px; margin: 20px 0 8px; }
h4 { font-size: 14px; margin: 12px 0 4px; }
.meta { color: #555; margin: 0 0 12px; }
nav ul { margin: 4px 0; padding-left: 20px; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
table.stats th { font-weight: normal; color: #555; }
table.metrics td, table.motifs td { font-variant-numeric: tabular-nums; }
table.metrics thead th, table.motifs thead th { border-bottom: 2px solid #bbb; }
tr.mean td { font-weight: bold; border-top: 2px solid #bbb; }
td.motif { font-family: "DejaVu Sans Mono", monospace; }
figure.chart-box { display: inline-block; width: min-content; margin: 8px 12px 12px 0; vertical-align: top; }
figcaption { font-size: 12.5px; color: #555; }
svg.chart { background: #fff; border: 1px solid #e3e3e3; display: block; }
svg.chart text { font: 11px "DejaVu Sans", Arial, sans-serif; fill: #333; }
svg.chart text.title { font-size: 14px; font-weight: bold; }
svg.chart text.axis-label { font-size: 12px; fill: #444; }
svg.chart text.no-data { font-size: 14px; fill: #999; }
svg.chart .grid { stroke: #ececec; }
svg.chart .axis, svg.chart .tick-mark { stroke: #888; }
svg.chart .bar { fill: #4e79a7; }
svg.chart .bar:hover { fill: #f28e2b; }
svg.chart .area { fill: #4e79a7; }
svg.chart .line { stroke-width: 2; }
svg.chart .reference, svg.chart .marker { stroke: #e15759; stroke-dasharray: 5 4; }
svg.chart text.reference-label, svg.chart text.marker-label { fill: #e15759; }
.pair { display: flex; flex-wrap: wrap; gap: 0 8px; }
.players { display: flex; flex-wrap: wrap; gap: 8px 24px; margin-bottom: 16px; }
.player span { display: block; font-size: 12.5px; color: #555; }
.note { color: #8a5a00; font-size: 13px; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
)CSS";

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

void run_report(const ReportArgs& args) {
  if (args.samples < 0) throw UsageError("report: --samples must be 0 or more");
  if (!(args.audio_seconds >= 0) || args.audio_seconds > 3600) throw UsageError("report: --audio-seconds must be from 0 to 3600");

  // Each DIR, or when it holds nothing itself, its sub-folders (one level).
  std::vector<Found> found;
  for (const std::string& d : args.dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) {
      std::fprintf(stderr, "acoustok: %s: %s (skipped)\n", d.c_str(), fs::exists(d, ec) ? "not a folder" : "no such folder");
      continue;
    }
    Found f = probe(d);
    if (f.any()) {
      found.push_back(f);
      continue;
    }
    std::vector<fs::path> subs;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (it->is_directory(ec2) && it->path().filename().string()[0] != '.') subs.push_back(it->path());
    }
    std::sort(subs.begin(), subs.end());
    bool any = false;
    for (const fs::path& s : subs) {
      Found fs2 = probe(s);
      if (fs2.any()) found.push_back(fs2), any = true;
    }
    if (!any)
      std::fprintf(stderr,
                   "acoustok: %s: no phase outputs found (segments.jsonl, corpus_timestamped.json, kmeans.safetensors, "
                   "motif_analysis.json, bpe.vocab, training_log.json, metrics.json) (skipped)\n",
                   d.c_str());
  }
  if (found.empty())
    throw Error("report: none of the folders holds phase outputs (segments.jsonl, corpus_timestamped.json, kmeans.safetensors, "
                "motif_analysis.json, bpe.vocab, training_log.json or metrics.json)");

  Counters n;
  std::vector<Section> sections;
  for (const Found& f : found) {
    if (f.segments) sections.push_back(segments_section(f.dir, n));
    if (f.corpus || f.units_txt || f.kmeans) sections.push_back(units_section(f.dir, f.corpus, f.units_txt, f.kmeans, n));
    if (f.analysis || f.vocab) sections.push_back(motifs_section(f.dir, f.analysis, n));
    if (f.log) sections.push_back(training_section(f.dir, args, n));
    if (f.metrics) sections.push_back(test_section(f.dir, args, n));
  }
  std::stable_sort(sections.begin(), sections.end(), [](const Section& a, const Section& b) { return a.phase < b.phase; });

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"acoustok " ACOUSTOK_VERSION
      "\">\n<title>acoustok report</title>\n<style>";
  html += kStyle;
  html += "</style>\n</head>\n<body>\n<header>\n<h1>acoustok report</h1>\n<p class=\"meta\">acoustok " ACOUSTOK_VERSION ", " + utc_now() + "; from";
  for (const std::string& d : args.dirs) html += " <code>" + esc(d) + "</code>";
  html += "</p>\n</header>\n<nav>\n<ul>\n";
  for (size_t i = 0; i < sections.size(); ++i)
    html += "<li><a href=\"#section-" + std::to_string(i + 1) + "\">" + esc(sections[i].title) + "</a> <code>" + esc(sections[i].dir) + "</code></li>\n";
  html += "</ul>\n</nav>\n";
  for (size_t i = 0; i < sections.size(); ++i) {
    const Section& s = sections[i];
    html += "<section id=\"section-" + std::to_string(i + 1) + "\" class=\"phase\" data-phase=\"" + std::to_string(s.phase) + "\">\n<h2>" +
            esc(s.title) + " <span class=\"dir\">" + esc(s.dir) + "</span></h2>\n" + s.body + "</section>\n";
  }
  html += "<footer>Written by <code>acoustok report</code>: one file, no script, nothing fetched from the network.</footer>\n</body>\n</html>\n";
  OutputArg output(args.output, ".html");
  common::write_text_file(output.path(), html);
  output.finish();

  if (n.skipped_audio) exit_status = 1;
  std::set<int> phases;
  for (const Section& s : sections) phases.insert(s.phase);
  if (args.json_out) {
    const json summary = {{"sections", sections.size()}, {"phases", phases}, {"folders", found.size()}, {"charts", n.charts},
                          {"audio_clips", n.clips}, {"output", args.output}, {"bytes", html.size()}};
    std::printf("%s\n", summary.dump().c_str());
  }
  if (!args.quiet) {
    std::string list;
    for (int p : phases) list += (list.empty() ? "" : ", ") + std::to_string(p);
    std::fprintf(stderr, "report: %zu section(s) (phase%s %s) from %zu folder(s), %d charts, %d audio clips -> %s (%.1f MB)\n",
                 sections.size(), phases.size() > 1 ? "s" : "", list.c_str(), found.size(), n.charts, n.clips, args.output.c_str(),
                 static_cast<double>(html.size()) / 1e6);
  }
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "One self-contained HTML page of charts from the outputs of phases 0 to 3");
  cmd->add_option("dirs", args->dirs,
                  "Folders written by segment, units, bpe, vocoder train or vocoder test (a folder holding none of their files: its "
                  "sub-folders)")
      ->required();
  cmd->add_option("-o,--output", args->output, "The HTML file to write; - for standard output")->required();
  cmd->add_option("--samples", args->samples, "Vocoder test samples shown with spectrograms and players (the table lists all)")
      ->capture_default_str()
      ->check(checks::int_at_least(0));
  cmd->add_option("--audio-seconds", args->audio_seconds, "Seconds of each WAV embedded in a player (0: no players)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_flag("-q,--quiet", args->quiet, "No summary on stderr");
  cmd->add_flag("--json", args->json_out, "A summary as one JSON object on stdout");
  cmd->callback([args]() {
    if (args->json_out && args->output == "-") throw UsageError("report: --json needs -o FILE (standard output carries the page)");
    run_report(*args);
  });
}

}  // namespace acoustok::tools
