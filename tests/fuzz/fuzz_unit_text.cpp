// SPDX-License-Identifier: MIT
// libFuzzer target: unit text (one segment of space-separated ids per line),
// as `units`, `bpe`, `synth` and the elements read it.
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/unit_text.hpp"
#include "acoustok/vocoder_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& line : acoustok::parse_unit_lines(text, "units.txt"))
      acoustok::check_units_in_range(line, 100, "units.txt");
  } catch (const acoustok::Error&) {
  }
  try {
    std::vector<int> units;
    acoustok::parse_unit_line(text, &units, "units.txt", 1);
    std::vector<int> collapsed;
    std::vector<int64_t> runs;
    acoustok::collapse_repeats(units, &collapsed, &runs);
    std::vector<int> back;
    (void)acoustok::utf8_to_units(acoustok::units_to_utf8(collapsed), &back);
  } catch (const acoustok::Error&) {
  }
  return 0;
}
