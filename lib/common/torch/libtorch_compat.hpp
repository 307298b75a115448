// SPDX-License-Identifier: MIT
// The one place that knows LibTorch's two API generations (meson.build
// refuses anything older than 1.13): 1.x as Debian 12 ships it, 2.x as
// Debian 13 and every CUDA build (PyTorch wheels, libtorch zips) do.
// Everything else in the project calls these and never tests the version.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

namespace acoustok::torch_compat {

// The key of a parameter's state in an optimiser's state(): 1.x keys it by
// the text of the parameter's TensorImpl address, 2.x by the address.
inline auto optimizer_state_key(const torch::Tensor& parameter) {
#if TORCH_VERSION_MAJOR >= 2
  return static_cast<void*>(parameter.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
#endif
}

}  // namespace acoustok::torch_compat
