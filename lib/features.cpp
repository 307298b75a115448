#include "acoustok/features.hpp"

namespace acoustok {

int64_t feature_frames(int64_t samples) { return samples < 400 ? 0 : (samples - 400) / 320 + 1; }

}  // namespace acoustok
