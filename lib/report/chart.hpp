// SPDX-License-Identifier: MIT
// The report's SVG chart kit: round axes, a plot frame, bar, histogram and
// line charts, tables. Every string is escaped here; labels are plain text.
// Bars and points carry their values (data-value, tooltips) for tests and tools.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/text.hpp"

namespace acoustok::report {

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> ticks;
};

// 1, 2 or 5 times a power of ten near `raw`; 1 when raw is not positive.
double nice_step(double raw);
// Round ticks covering [lo, hi], about `target` steps; `integers`: a step of
// at least 1 (counts, epochs).
Axis nice_axis(double lo, double hi, int target, bool from_zero, bool integers = false);
std::string tick_label(double v, double step, bool as_percent);

// The plot area of a chart, in SVG pixels.
struct Frame {
  int width = 550, height = 290;  // two charts side by side on a 1200-pixel page
  double left = 66, right = 16, top = 46, bottom = 48;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }  // bottom of the plot
  double y1() const { return top; }              // top of the plot
  double map_x(const Axis& a, double v) const;
  double map_y(const Axis& a, double v) const;
};

// The pieces of a chart: <svg ...> with its title; the y axis (grid lines,
// ticks, label), the x axis ticks, the x label; the plot's border; "no data".
std::string svg_open(const std::string& id, const std::string& title, const Frame& f);
std::string y_axis_svg(const Frame& f, const Axis& a, bool as_percent, const std::string& label);
std::string x_axis_svg(const Frame& f, const Axis& a);
std::string x_label_svg(const Frame& f, const std::string& label);
std::string plot_border(const Frame& f);
std::string no_data_svg(const Frame& f);
// A chart in a <figure> with its caption (HTML, none when empty).
std::string figure(const std::string& svg, const std::string& caption_html);

struct Bar {
  std::string label;  // x label (plain text)
  double value = 0;
  std::string tip;  // tooltip (plain text)
};

// Bars over categories, evenly spaced; above 400 bars an area instead; a
// dashed horizontal line at `reference` when it is finite.
std::string bar_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel, const std::vector<Bar>& bars, bool as_percent,
                      double reference = kNaN, const std::string& reference_label = "");
// Bars over numeric bins [edges[i], edges[i+1]).
std::string histogram_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                            const std::string& ylabel, const std::vector<double>& edges,
                            const std::vector<double>& counts, const std::string& unit);

struct Series {
  std::string name;
  std::vector<double> x, y;  // y NaN: a gap
  bool dashed = false;
};

// Lines over an integer x axis (epochs), a vertical marker at `marker_x` when
// it is finite.
std::string line_chart(const std::string& id, const std::string& title, const std::string& xlabel,
                       const std::string& ylabel, const std::vector<Series>& series, double marker_x = kNaN,
                       const std::string& marker_label = "");

using Row = std::pair<std::string, std::string>;  // label (plain), value (HTML)

// A two-column table of figures.
std::string stats_table(const std::string& id, const std::vector<Row>& rows);

}  // namespace acoustok::report
