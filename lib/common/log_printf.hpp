// SPDX-License-Identifier: MIT
// The library side of acoustok/log.hpp: printf-style messages to the
// installed callback.
#pragma once

#include "acoustok/log.hpp"

namespace acoustok::common {

void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace acoustok::common
