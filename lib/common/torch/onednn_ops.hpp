// SPDX-License-Identifier: MIT
// Float32 CPU kernels of the wav2vec2 forward pass, called on LibTorch tensors
// but run by oneDNN primitives directly: no conversion to or from oneDNN's own
// tensor type, any row/column strides (a head of a [T, D] matrix, a weight
// read transposed), bias, scale, GELU and accumulation fused into the product.
// ATen's own mkldnn_linear copies every input and output, re-packs an
// activation used as a weight on every call and leaves softmax to AVX2 code,
// which roughly halves the product rate (README.md, "Speed"). Softmax and
// layer norm are our own row kernels (row_kernels.hpp).
//
// oneDNN headers stay inside onednn_ops.cpp.
#pragma once

#include <torch/torch.h>

#include <memory>

namespace acoustok::onednn {

enum class Activation { None, Gelu };

// Packed weights and the activations fed to them: float32, or bfloat16
// products (activations rounded to bf16 on the way in, accumulation and
// outputs in float32). bf16 needs AVX512_BF16 or AMX (bf16_supported()).
enum class Precision { F32, BF16 };
bool bf16_supported();

// Scratch memory the kernels below reuse from call to call (oneDNN's
// scratchpads, bfloat16 copies of inputs, packing buffers, a model's own
// blocks), owned by the model that runs them and freed with it. While a
// Scope is alive on a thread, the kernels that thread runs use its
// Workspace; without one, a call allocates what it needs and frees it.
// Thread-safety: one Scope at a time per Workspace (a model runs one call
// at a time); a thread may run several models, each in its own Scope.
class Workspace {
 public:
  enum class Slot { scratchpad, bf16_input, packing, attention_heads, count };

  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  class Scope {
   public:
    explicit Scope(Workspace& workspace);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Workspace* previous_;
  };

  // The first `numel` elements of the buffer kept under `slot`, grown (never
  // shrunk) to fit: from this thread's Workspace in scope, else a fresh tensor.
  static torch::Tensor scratch(Slot slot, int64_t numel, torch::ScalarType type);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct MatmulOptions {
  TORCH_ARG(torch::Tensor, bias);                        // [N], added to every row
  TORCH_ARG(float, alpha) = 1.0f;                        // dst = alpha * a @ b (+ bias)
  TORCH_ARG(bool, accumulate) = false;                   // dst += ... instead of dst = ...
  TORCH_ARG(Activation, activation) = Activation::None;  // applied last (exact erf GELU)
};

// dst [M, N] = a [M, K] @ b [K, N] per MatmulOptions; also batched
// ([B, M, K] @ [B, K, N] -> [B, M, N]). CPU tensors of any strides (a
// weight w [N, K] is passed as w.t()): a and b both float32 or both
// bfloat16, dst float32; dst must not overlap a or b.
// Primitives are made once per shape and stride pattern and cached.
void matmul(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& dst,
            const MatmulOptions& options = {});

// A constant weight [out, in] reordered once into the blocked layout
// oneDNN's kernels read fastest (5-8 % over reading it transposed in place).
class PackedWeight {
 public:
  // Float32 [out, in] (for BF16 also bfloat16). Takes over the weight's
  // memory when it is contiguous (the caller must not use `weight` afterwards).
  static PackedWeight pack(torch::Tensor weight, Precision precision = Precision::F32);
  bool defined() const { return impl_ != nullptr; }
  int64_t out() const;
  int64_t in() const;

 private:
  friend void linear(const torch::Tensor&, const PackedWeight&, const torch::Tensor&, const MatmulOptions&);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// dst [rows, out] = x [rows, in] @ w^T per MatmulOptions (x, dst any strides).
void linear(const torch::Tensor& x, const PackedWeight& w, const torch::Tensor& dst,
            const MatmulOptions& options = {});

// A 1-D convolution over time-major signals, [T, in] -> [T', out] with
// T' = (T - kernel) / stride + 1 (no padding), its weight packed once.
class PackedConv {
 public:
  // Float32 [out, in / groups, kernel] (for BF16 also bfloat16); takes the
  // memory over like PackedWeight.
  static PackedConv pack(torch::Tensor weight, int64_t stride, int64_t groups = 1,
                         Precision precision = Precision::F32);
  bool defined() const { return impl_ != nullptr; }
  int64_t out() const;
  int64_t kernel() const;
  int64_t stride() const;
  // dst [T', out] = conv(x) + bias (bias may be undefined). Rows of x and dst
  // contiguous, any row stride; x may be longer than dst needs.
  void run(const torch::Tensor& x, const torch::Tensor& bias, const torch::Tensor& dst) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A 1-D convolution, or transposed convolution, with zero padding and
// dilation over time-major signals [T, in] -> [T', out], for float32
// inference: its weight packed once, leaky ReLU and accumulation into dst
// fused into the product (the unit HiFi-GAN's generator runs on these: no
// layout conversion between layers, which ATen's path pays on every call).
struct TimeConvOptions {
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;  // zeros on both sides
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(bool, transposed) = false;
};

class TimeConv {
 public:
  // weight: float32 [out, in, k] (PyTorch's Conv1d), or [in, out, k] when
  // transposed (ConvTranspose1d); bias [out]. Both are copied.
  static TimeConv pack(const torch::Tensor& weight, const torch::Tensor& bias,
                       const TimeConvOptions& options);
  bool defined() const { return impl_ != nullptr; }
  int64_t in() const;
  int64_t out() const;
  int64_t out_steps(int64_t in_steps) const;  // T' for T, as PyTorch computes it
  // dst [T', out] = conv(x) + bias (+ dst's own values with `accumulate`),
  // then leaky ReLU of that slope when leaky_slope >= 0. x and dst
  // contiguous [T, in] and [T', out], not overlapping.
  void run(const torch::Tensor& x, const torch::Tensor& dst, bool accumulate = false,
           float leaky_slope = -1.0f) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace acoustok::onednn
