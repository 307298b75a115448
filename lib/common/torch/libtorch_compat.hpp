// SPDX-License-Identifier: MIT
// The one place that knows LibTorch's two API generations (meson.build
// refuses anything older than 1.13): 1.x as Debian 12 ships it, 2.x as
// Debian 13 and every CUDA build (PyTorch wheels, libtorch zips) do.
// Everything else in the project calls these and never tests the version.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <type_traits>

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

// c10d's TCPStore: from LibTorch 2.4 on it asks for its libuv server by
// default, which Debian's LibTorch is built without ("use_libuv was
// requested but PyTorch was build without libuv support"); 1.x has only the
// classic socket server, which every build has. Always the classic one.
template <class Options, class = void>
struct has_use_libuv : std::false_type {};
template <class Options>
struct has_use_libuv<Options, std::void_t<decltype(std::declval<Options&>().useLibUV)>> : std::true_type {};

template <class TCPStoreOptions>
void use_classic_tcp_store(TCPStoreOptions& options) {
  if constexpr (has_use_libuv<TCPStoreOptions>::value) options.useLibUV = false;
}

}  // namespace acoustok::torch_compat
