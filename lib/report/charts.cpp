// SPDX-License-Identifier: MIT
#include "report/chart.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace acoustok::report {
namespace {

const char* const kPalette[] = {"#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#9c755f", "#76b7b2"};

}  // namespace

// Bars over categories, evenly spaced; above 400 bars an area instead.
// Each bar carries data-value (its value) for tests and tools.
std::string bar_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel, const std::vector<Bar>& bars, bool as_percent,
                      double reference, const std::string& reference_label) {
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
      s += "<rect class=\"bar\" data-value=\"" + printf_string("%.17g", v) + "\" x=\"" +
           coord(f.x0() + static_cast<double>(i) * slot + gap) + "\" y=\"" + coord(y) + "\" width=\"" +
           coord(std::max(0.5, slot - 2 * gap)) + "\" height=\"" + coord(f.y0() - y) + "\"><title>" +
           esc(bars[i].tip) + "</title></rect>";
    }
  } else if (n > 400) {
    std::string d = "M" + coord(f.x0()) + "," + coord(f.y0());
    for (size_t i = 0; i < n; ++i)
      d += " L" + coord(f.x0() + (static_cast<double>(i) + 0.5) * slot) + "," +
           coord(f.map_y(ya, std::isfinite(bars[i].value) ? bars[i].value : 0));
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
      s += "<text class=\"tick\" x=\"" + coord(f.x0() + (static_cast<double>(i) + 0.5) * slot) + "\" y=\"" +
           coord(f.y0() + 17) + "\" text-anchor=\"middle\">" + esc(bars[i].label) + "</text>";
  }
  if (std::isfinite(reference)) {
    const std::string y = coord(f.map_y(ya, reference));
    s += "<line class=\"reference\" x1=\"" + coord(f.x0()) + "\" x2=\"" + coord(f.x1()) + "\" y1=\"" + y +
         "\" y2=\"" + y + "\"/>";
    s += "<text class=\"reference-label\" x=\"" + coord(f.x1() - 4) + "\" y=\"" +
         coord(f.map_y(ya, reference) - 5) + "\" text-anchor=\"end\">" + esc(reference_label) + "</text>";
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

// Bars over numeric bins [edges[i], edges[i+1]).
std::string histogram_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                            const std::string& ylabel, const std::vector<double>& edges,
                            const std::vector<double>& counts, const std::string& unit) {
  Frame f;
  double cmax = 0;
  for (double c : counts) cmax = std::max(cmax, c);
  const Axis ya = nice_axis(0, cmax, 5, true, true);
  const Axis xa =
      edges.size() >= 2 ? nice_axis(edges.front(), edges.back(), 8, false) : nice_axis(0, 1, 5, true);
  std::string s = svg_open(id, title, f) + y_axis_svg(f, ya, false, ylabel) + x_axis_svg(f, xa);
  if (counts.empty()) s += no_data_svg(f);
  for (size_t i = 0; i < counts.size() && i + 1 < edges.size(); ++i) {
    const double xa0 = f.map_x(xa, edges[i]), xa1 = f.map_x(xa, edges[i + 1]), y = f.map_y(ya, counts[i]);
    const double gap = xa1 - xa0 > 4 ? 1 : 0;
    s += "<rect class=\"bar\" data-value=\"" + printf_string("%.17g", counts[i]) + "\" x=\"" +
         coord(xa0 + gap) + "\" y=\"" + coord(y) + "\" width=\"" + coord(std::max(0.5, xa1 - xa0 - 2 * gap)) +
         "\" height=\"" + coord(f.y0() - y) + "\"><title>" +
         esc(num(edges[i]) + "\xE2\x80\x93" + num(edges[i + 1]) + " " + unit + ": " + num(counts[i], 12)) +
         "</title></rect>";
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

std::string line_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                       const std::string& ylabel, const std::vector<Series>& series, double marker_x,
                       const std::string& marker_label) {
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
    s += "<line class=\"marker\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(f.y0()) + "\" y2=\"" +
         coord(f.y1()) + "\"/>";
    const double mx = f.map_x(xa, marker_x);
    const bool right_half = mx > (f.x0() + f.x1()) / 2;  // label on the side with room
    s += "<text class=\"marker-label\" x=\"" + coord(right_half ? mx - 4 : mx + 4) + "\" y=\"" +
         coord(f.y1() + 12) + "\" text-anchor=\"" + (right_half ? "end" : "start") + "\">" +
         esc(marker_label) + "</text>";
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
        s += "<polyline class=\"line\" data-series=\"" + esc(se.name) + "\" fill=\"none\" stroke=\"" + color +
             "\"" + dash + " points=\"" + pts + "\"/>";
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
      dots += "<circle class=\"point\" cx=\"" + coord(px) + "\" cy=\"" + coord(py) + "\" r=\"2.5\" fill=\"" +
              color + "\"><title>" + esc(se.name + " @ " + num(se.x[i], 8) + ": " + num(se.y[i], 6)) +
              "</title></circle>";
    }
    flush();
    if (drawn <= 120) s += dots;  // points (with their values as tooltips) while they stay readable
    // Legend: a row in the top margin.
    s += "<line x1=\"" + coord(legend_x) + "\" x2=\"" + coord(legend_x + 18) +
         "\" y1=\"36\" y2=\"36\" stroke=\"" + color + "\" stroke-width=\"2\"" + dash +
         "/><text class=\"legend\" x=\"" + coord(legend_x + 22) + "\" y=\"40\">" + esc(se.name) + "</text>";
    legend_x += 34 + 6.5 * static_cast<double>(se.name.size());
  }
  s += plot_border(f) + x_label_svg(f, xlabel) + "</svg>";
  return s;
}

}  // namespace acoustok::report
