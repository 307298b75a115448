// SPDX-License-Identifier: MIT
#include "report/colormap.hpp"

#include <algorithm>
#include <cmath>

namespace acoustok::report {

void viridis(double t, uint8_t* rgb) {
  static const uint8_t kStops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                       {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                       {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::isfinite(t) ? std::max(0.0, std::min(1.0, t)) * 8 : 0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<uint8_t>(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c])));
}

}  // namespace acoustok::report
