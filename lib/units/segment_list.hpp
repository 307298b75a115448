// SPDX-License-Identifier: MIT
// The input side of `acoustok units`: the segment files of SEGMENTS_DIR and
// the index `acoustok segment` writes beside them (segments.jsonl).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace acoustok::units {

// Segment files of SEGMENTS_DIR (*.wav, no temporaries), sorted by name
// (byte order). A name that is not UTF-8 cannot be written to the outputs:
// that file is named (escaped) and skipped, counted in *unusable.
std::vector<std::string> list_segments(const std::string& dir, int64_t* unusable);

// Where a segment came from, as segments.jsonl says.
struct SourceInfo {
  nlohmann::json source = nullptr;
  double start = 0;
};

// file -> (source recording, start) from DIR/segments.jsonl (empty when
// there is none). Throws acoustok::Error naming the file and line on a bad
// line or a start that is not a sane number of seconds.
std::map<std::string, SourceInfo> read_segment_index(const std::string& dir);

}  // namespace acoustok::units
