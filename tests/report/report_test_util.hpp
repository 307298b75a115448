// SPDX-License-Identifier: MIT
// Helpers of the report library's tests: files, and report_reference.py.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace acoustok::test {

void write_file(const std::string& path, const std::string& bytes);
// Runs report_reference.py with `args`; its stdout. A failure fails the test
// (ADD_FAILURE) with the script's output.
std::string reference(const std::string& args);
// The JSON summary of an SVG document (report_reference.py svg).
nlohmann::json svg_summary(const std::string& svg);
// Whether an HTML fragment parses as XML (report_reference.py xml).
bool well_formed(const std::string& html);
// Count of `needle` in `s`.
size_t count_of(const std::string& s, const std::string& needle);

}  // namespace acoustok::test
