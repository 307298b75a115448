// SPDX-License-Identifier: MIT
// The PNG writer of the report's spectrograms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acoustok::report {

// The bytes of a PNG file: 8-bit RGB, `rgb` holds height rows of width
// pixels top to bottom (3 bytes each); no filtering, zlib level 9.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace acoustok::report
