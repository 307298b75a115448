// SPDX-License-Identifier: MIT
// The report's text helpers: HTML escaping of untrusted strings, base64
// against Python's, the number formats of its tables.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "report/text.hpp"
#include "report_test_util.hpp"
#include "test_util.hpp"

using namespace acoustok::report;
using acoustok::test::make_temp_dir;
using acoustok::test::read_file;
using acoustok::test::reference;
using acoustok::test::write_file;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(ReportText, EscapesMarkupCharacters) {
  EXPECT_EQ(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(esc("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(esc("tab\tnew\nline"), "tab\tnew\nline");
  EXPECT_EQ(esc(""), "");
}

TEST(ReportText, ReplacesControlCharactersAndBadUtf8) {
  EXPECT_EQ(esc(std::string("a\0b", 3)), "a" + kReplacement + "b");
  EXPECT_EQ(esc("\x1b[31m"), kReplacement + "[31m");
  EXPECT_EQ(esc("\r"), kReplacement);
  // Valid UTF-8 of 2, 3 and 4 bytes passes unchanged.
  EXPECT_EQ(esc("\xC3\xA9\xE2\x80\x93\xF0\x9F\x98\x80"), "\xC3\xA9\xE2\x80\x93\xF0\x9F\x98\x80");
  // A lone continuation byte, a truncated sequence, an overlong form, a UTF-16 surrogate, beyond U+10FFFF.
  EXPECT_EQ(esc("\x80"), kReplacement);
  EXPECT_EQ(esc("x\xE2\x80"), "x" + kReplacement + kReplacement);
  EXPECT_EQ(esc("\xC0\xAF"), kReplacement + kReplacement);
  EXPECT_EQ(esc("\xE0\x80\xAF"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(esc("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(esc("\xF4\x90\x80\x80"), kReplacement + kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(esc("\xFF<"), kReplacement + "&lt;");
}

TEST(ReportText, Base64EqualsPythons) {
  const std::string dir = make_temp_dir("report-base64");
  std::mt19937 rng(7);
  for (size_t size : {0, 1, 2, 3, 4, 5, 57, 1000, 4099}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    write_file(dir + "/in", bytes);
    reference("base64 " + dir + "/in " + dir + "/out");
    EXPECT_EQ(base64(bytes), read_file(dir + "/out")) << size << " bytes";
  }
  EXPECT_EQ(base64("Man"), "TWFu");
  EXPECT_EQ(base64("Ma"), "TWE=");
  EXPECT_EQ(base64("M"), "TQ==");
}

TEST(ReportText, NumbersForTables) {
  EXPECT_EQ(num(169326.09), "169326");
  EXPECT_EQ(num(0.012345), "0.01235");
  EXPECT_EQ(num(3.14159), "3.142");
  EXPECT_EQ(num(0), "0.000");
  EXPECT_EQ(num(1234, 12), "1234.00000000");
  EXPECT_EQ(num(2.5e-7), "2.5e-07");
  EXPECT_EQ(num(1e13), "1e+13");
  EXPECT_EQ(num(NAN), "\xE2\x80\x93");
  EXPECT_EQ(num(INFINITY), "\xE2\x80\x93");
  EXPECT_EQ(fixed(2.345, 1), "2.3");
  EXPECT_EQ(fixed(-NAN, 2), "\xE2\x80\x93");
  EXPECT_EQ(percent(0.1234), "12.3 %");
  EXPECT_EQ(percent(0.5, 2), "50.00 %");
  EXPECT_EQ(percent(NAN), "\xE2\x80\x93");
  EXPECT_EQ(integer(-42), "-42");
  EXPECT_EQ(coord(12.345), "12.3");
}

TEST(ReportText, Durations) {
  EXPECT_EQ(duration_text(12.34), "12.3 s");
  EXPECT_EQ(duration_text(185.2), "3m05.2s");
  EXPECT_EQ(duration_text(3723), "1h02m03s");
  EXPECT_EQ(duration_text(-1), "-1.000");  // not a duration: the figure itself
  EXPECT_EQ(duration_text(NAN), "\xE2\x80\x93");
}

}  // namespace
