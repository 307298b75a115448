// SPDX-License-Identifier: MIT
// Audio players of the report: WAV bytes in a data: URI.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "report/section.hpp"

namespace acoustok::report {

// 16 kHz mono PCM16 WAV of the first n samples of x (clipped to [-1, 1]).
std::string wav_bytes(const std::vector<float>& x, size_t n);
// An <audio> player of the first `seconds` of x.
std::string player_html(const std::string& label, const std::vector<float>& x, double seconds, Counters& n);
// A WAV file read for the report; an unreadable one is counted and reported
// (opt.skipped), and becomes the HTML `note`.
bool read_wav_for_report(const std::string& path, std::vector<float>& x, std::string& note,
                         const Options& opt, Counters& n);

}  // namespace acoustok::report
