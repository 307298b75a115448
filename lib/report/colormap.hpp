// SPDX-License-Identifier: MIT
// The colour map of the report's spectrograms.
#pragma once

#include <cstdint>

namespace acoustok::report {

// Viridis at t in [0, 1] (clamped; NaN reads 0): 9 stops, linear in between,
// into rgb[0..2].
void viridis(double t, uint8_t* rgb);

}  // namespace acoustok::report
