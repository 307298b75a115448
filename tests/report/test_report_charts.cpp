// SPDX-License-Identifier: MIT
// The SVG chart kit: every chart parses as XML (Python's xml.etree), with the
// elements and coordinates the plot frame's geometry gives.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "report/chart.hpp"
#include "report_test_util.hpp"

using namespace acoustok::report;
using acoustok::test::svg_summary;
using nlohmann::json;

namespace {

// The default frame: 550 x 290 pixels, plot from x 66 to 534 and y 242 (bottom) to 46 (top).
constexpr double kX0 = 66, kX1 = 534, kY0 = 242, kY1 = 46;

int count(const json& summary, const std::string& key) { return summary["counts"].value(key, 0); }

std::vector<json> elements(const json& summary, const std::string& tag, const std::string& cls) {
  std::vector<json> out;
  for (const json& e : summary["elements"])
    if (e["tag"] == tag && e.value("class", "") == cls) out.push_back(e);
  return out;
}

double at(const json& e, const char* key) { return std::stod(e.at(key).get<std::string>()); }

TEST(ReportCharts, NiceSteps) {
  EXPECT_DOUBLE_EQ(nice_step(0.14), 0.1);
  EXPECT_DOUBLE_EQ(nice_step(2.5), 2);
  EXPECT_DOUBLE_EQ(nice_step(6.9), 5);
  EXPECT_DOUBLE_EQ(nice_step(8), 10);
  EXPECT_DOUBLE_EQ(nice_step(0), 1);
  EXPECT_DOUBLE_EQ(nice_step(NAN), 1);
  const Axis a = nice_axis(0, 4.2, 5, true);
  EXPECT_DOUBLE_EQ(a.step, 1);
  EXPECT_DOUBLE_EQ(a.hi, 5);
  EXPECT_EQ(a.ticks, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  const Axis b = nice_axis(0.2, 0.2, 5, false);  // one value: padded around it
  EXPECT_LT(b.lo, 0.2);
  EXPECT_GT(b.hi, 0.2);
  const Axis c = nice_axis(NAN, 1e300, 5, false);  // nonsense: [0, 1]
  EXPECT_DOUBLE_EQ(c.lo, 0);
  EXPECT_DOUBLE_EQ(c.hi, 1);
  EXPECT_LE(nice_axis(0, 1e15, 5, true).ticks.size(), 61u);
  EXPECT_DOUBLE_EQ(nice_axis(0, 0.3, 5, true, true).step, 1);  // counts: whole steps
  EXPECT_EQ(tick_label(0.25, 0.05, false), "0.25");
  EXPECT_EQ(tick_label(0.5, 0.1, true), "50%");
  EXPECT_EQ(tick_label(2e6, 1e6, false), "2e+06");
}

TEST(ReportCharts, BarChartGeometry) {
  const std::vector<Bar> bars = {
      {"a", 1, "one"}, {"b", 2, "two"}, {"c", 3, "three"}, {"d", 4, "four & more"}};
  const std::string svg = bar_chart("bars", "Bars <here>", "x", "y", bars, false, 2.5, "ref");
  const json s = svg_summary(svg);
  EXPECT_EQ(s["root"], "svg");
  EXPECT_EQ(count(s, "rect.bar"), 4);
  EXPECT_EQ(count(s, "line.grid"), 5);  // ticks 0..4
  EXPECT_EQ(count(s, "line.reference"), 1);
  EXPECT_EQ(count(s, "text.title"), 1);
  const auto rects = elements(s, "rect", "bar");
  ASSERT_EQ(rects.size(), 4u);
  const double slot = (kX1 - kX0) / 4, gap = slot * 0.15, per_unit = (kY0 - kY1) / 4;
  for (size_t i = 0; i < 4; ++i) {
    const double v = bars[i].value;
    EXPECT_EQ(at(rects[i], "data-value"), v);
    EXPECT_NEAR(at(rects[i], "x"), kX0 + static_cast<double>(i) * slot + gap, 0.051);
    EXPECT_NEAR(at(rects[i], "width"), slot - 2 * gap, 0.051);
    EXPECT_NEAR(at(rects[i], "y"), kY0 - v * per_unit, 0.051);
    EXPECT_NEAR(at(rects[i], "height"), v * per_unit, 0.051);
  }
  const auto ref = elements(s, "line", "reference");
  EXPECT_NEAR(at(ref[0], "y1"), kY0 - 2.5 * per_unit, 0.051);
  EXPECT_NE(svg.find("Bars &lt;here&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<title>four &amp; more</title>"), std::string::npos);
}

TEST(ReportCharts, ManyBarsBecomeAnArea) {
  std::vector<Bar> bars;
  for (int i = 0; i < 401; ++i) bars.push_back({std::to_string(i), static_cast<double>(i % 7), ""});
  const json s = svg_summary(bar_chart("many", "Many", "x", "y", bars, false));
  EXPECT_EQ(count(s, "rect.bar"), 0);
  EXPECT_EQ(count(s, "path.area"), 1);
  EXPECT_LT(count(s, "text.tick"), 60);  // labels thinned out
  const json empty = svg_summary(bar_chart("none", "None", "x", "y", {}, true));
  EXPECT_EQ(count(empty, "text.no-data"), 1);
}

TEST(ReportCharts, HistogramBins) {
  const std::vector<double> edges = {0, 1, 2, 3}, counts = {2, 0, 5};
  const json s = svg_summary(histogram_chart("h", "H", "len", "n", edges, counts, "s"));
  const auto rects = elements(s, "rect", "bar");
  ASSERT_EQ(rects.size(), 3u);
  // x axis 0..3 (step 0.5), y axis 0..5 (step 1).
  const double px = (kX1 - kX0) / 3, py = (kY0 - kY1) / 5;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(at(rects[i], "data-value"), counts[i]);
    EXPECT_NEAR(at(rects[i], "x"), kX0 + edges[i] * px + 1, 0.051);
    EXPECT_NEAR(at(rects[i], "width"), px - 2, 0.051);
    EXPECT_NEAR(at(rects[i], "height"), counts[i] * py, 0.051);
  }
  EXPECT_EQ(count(s, "line.tick-mark"), 7);  // 0, 0.5, ... 3
}

TEST(ReportCharts, LinesGapsMarkerAndLegend) {
  const std::vector<double> x = {1, 2, 3, 4, 5};
  const std::vector<Series> series = {{"loss", x, {5, 4, 3, 2, 1}, false},
                                      {"held-out", x, {4, 3, NAN, 2, 2}, true}};
  const std::string svg = line_chart("l", "L", "epoch", "loss", series, 3, "best");
  const json s = svg_summary(svg);
  EXPECT_EQ(count(s, "polyline.line"), 3);  // the second series is cut at its gap
  EXPECT_EQ(count(s, "circle.point"), 9);
  EXPECT_EQ(count(s, "line.marker"), 1);
  EXPECT_EQ(count(s, "text.legend"), 2);
  // x axis 1..5 (step 1), y axis 1..5 (step 1): the first series' first point at (x0, y1).
  const auto polylines = elements(s, "polyline", "line");
  EXPECT_EQ(polylines[0]["points"].get<std::string>().substr(0, 9), "66.0,46.0");
  const auto marker = elements(s, "line", "marker");
  EXPECT_NEAR(at(marker[0], "x1"), kX0 + 0.5 * (kX1 - kX0), 0.051);
  EXPECT_NE(polylines[1].value("stroke-dasharray", ""), "");
  const json none = svg_summary(line_chart("n", "N", "x", "y", {{"empty", {}, {}, false}}));
  EXPECT_EQ(count(none, "text.no-data"), 1);
  EXPECT_EQ(count(none, "polyline.line"), 0);
}

TEST(ReportCharts, FigureAndTable) {
  EXPECT_EQ(figure("<svg/>", ""), "<figure class=\"chart-box\"><svg/></figure>\n");
  EXPECT_EQ(figure("<svg/>", "c"), "<figure class=\"chart-box\"><svg/><figcaption>c</figcaption></figure>\n");
  EXPECT_EQ(stats_table("t", {{"a<", "<b>1</b>"}}),
            "<table class=\"stats\" data-table=\"t\"><tr><th>a&lt;</th><td><b>1</b></td></tr></table>\n");
}

}  // namespace
