// SPDX-License-Identifier: MIT
// The libraries acoustok loads itself (libacoustok-torch, and
// libacoustok-sentencepiece) are found the same way: beside the library
// that asks (a build folder, or the installed libdir), else wherever the
// dynamic loader looks.
#pragma once

#include <string>

namespace acoustok::common {

// dlopen(`soname`, flags) from the folder of the shared object that holds
// `anchor` (any function of the asking library), else by soname alone.
// nullptr, and the loader's reason in `why`, when neither opens.
void* open_library_beside(const void* anchor, const std::string& soname, int flags, std::string& why);

}  // namespace acoustok::common
