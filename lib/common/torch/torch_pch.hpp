// SPDX-License-Identifier: MIT
// Precompiled for libacoustok-torch (meson's cpp_pch): LibTorch's C++ API
// costs about 9 s of parsing per file, as much as the file itself, twice per
// CI run (the plain and the sanitizer builds). Every file of the library
// still includes what it uses; this only makes the first include free.
#pragma once
#include <torch/torch.h>
