// SPDX-License-Identifier: MIT
#include "report_test_util.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "test_util.hpp"

namespace acoustok::test {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string reference(const std::string& args) {
  const char* script = std::getenv("ACOUSTOK_REPORT_REFERENCE");
  std::string out;
  const std::string command =
      std::string("/usr/bin/python3 ") + (script ? script : "report/report_reference.py") + " " + args;
  const int rc = run_command(command, &out);
  if (rc != 0) ADD_FAILURE() << command << " exited " << rc << ":\n" << out;
  return out;
}

nlohmann::json svg_summary(const std::string& svg) {
  const std::string path = make_temp_dir("report-svg") + "/chart.svg";
  write_file(path, svg);
  return nlohmann::json::parse(reference("svg " + path));
}

bool well_formed(const std::string& html) {
  const std::string path = make_temp_dir("report-xml") + "/fragment.html";
  write_file(path, html);
  std::string out;
  const char* script = std::getenv("ACOUSTOK_REPORT_REFERENCE");
  return run_command(std::string("/usr/bin/python3 ") + (script ? script : "report/report_reference.py") +
                         " xml " + path,
                     &out) == 0;
}

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace acoustok::test
