// SPDX-License-Identifier: MIT
#include "acoustok/features.hpp"
#include "acoustok/frame_grid.hpp"

namespace acoustok {

int64_t feature_frames(int64_t samples) { return grid::frames_for_samples(samples); }

}  // namespace acoustok
