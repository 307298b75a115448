// SPDX-License-Identifier: MIT
#include "report/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace acoustok::report {

double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

Axis nice_axis(double lo, double hi, int target, bool from_zero, bool integers) {
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

double Frame::map_x(const Axis& a, double v) const {
  v = std::max(a.lo, std::min(a.hi, v));
  return x0() + (v - a.lo) / (a.hi - a.lo) * (x1() - x0());
}
double Frame::map_y(const Axis& a, double v) const {
  v = std::max(a.lo, std::min(a.hi, v));
  return y0() - (v - a.lo) / (a.hi - a.lo) * (y0() - y1());
}

std::string svg_open(const std::string& id, const std::string& title, const Frame& f) {
  const std::string w = std::to_string(f.width), h = std::to_string(f.height);
  return "<svg class=\"chart\" data-chart=\"" + esc(id) + "\" width=\"" + w + "\" height=\"" + h +
         "\" viewBox=\"0 0 " + w + " " + h + "\" role=\"img\" aria-label=\"" + esc(title) + "\">" +
         "<text class=\"title\" x=\"" + coord(f.width / 2.0) + "\" y=\"20\" text-anchor=\"middle\">" +
         esc(title) + "</text>";
}

std::string y_axis_svg(const Frame& f, const Axis& a, bool as_percent, const std::string& label) {
  std::string s;
  for (double t : a.ticks) {
    const std::string y = coord(f.map_y(a, t));
    s += "<line class=\"grid\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" + y +
         "\" y2=\"" + y + "\"/>";
    s += "<text class=\"tick\" x=\"" + coord(f.x0() - 6) + "\" y=\"" + coord(f.map_y(a, t) + 4) +
         "\" text-anchor=\"end\">" + tick_label(t, a.step, as_percent) + "</text>";
  }
  s += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(16," +
       coord((f.y0() + f.y1()) / 2) + ") rotate(-90)\">" + esc(label) + "</text>";
  return s;
}

std::string x_axis_svg(const Frame& f, const Axis& a) {
  std::string s;
  for (double t : a.ticks) {
    const std::string x = coord(f.map_x(a, t));
    s += "<line class=\"tick-mark\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" +
         coord(f.y0() + 4) + "\"/>";
    s += "<text class=\"tick\" x=\"" + x + "\" y=\"" + coord(f.y0() + 17) + "\" text-anchor=\"middle\">" +
         tick_label(t, a.step, false) + "</text>";
  }
  return s;
}

std::string x_label_svg(const Frame& f, const std::string& label) {
  return "<text class=\"axis-label\" x=\"" + coord((f.x0() + f.x1()) / 2) + "\" y=\"" +
         coord(f.height - 10.0) + "\" text-anchor=\"middle\">" + esc(label) + "</text>";
}

std::string plot_border(const Frame& f) {
  return "<line class=\"axis\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" +
         coord(f.y0()) + "\" y2=\"" + coord(f.y0()) + "\"/><line class=\"axis\" x1=\"" + coord(f.x0()) +
         "\" x2=\"" + coord(f.x0()) + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" + coord(f.y1()) + "\"/>";
}

std::string no_data_svg(const Frame& f) {
  return "<text class=\"no-data\" x=\"" + coord((f.x0() + f.x1()) / 2) + "\" y=\"" +
         coord((f.y0() + f.y1()) / 2) + "\" text-anchor=\"middle\">no data</text>";
}

std::string figure(const std::string& svg, const std::string& caption_html) {
  return "<figure class=\"chart-box\">" + svg +
         (caption_html.empty() ? "" : "<figcaption>" + caption_html + "</figcaption>") + "</figure>\n";
}

std::string stats_table(const std::string& id, const std::vector<Row>& rows) {
  std::string s = "<table class=\"stats\" data-table=\"" + esc(id) + "\">";
  for (const Row& r : rows) s += "<tr><th>" + esc(r.first) + "</th><td>" + r.second + "</td></tr>";
  return s + "</table>\n";
}

}  // namespace acoustok::report
