// SPDX-License-Identifier: MIT
#include "common/torch/onednn_ops.hpp"

#include <ATen/Parallel.h>
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>

#include "acoustok/error.hpp"
#include "common/torch/onednn_compat.hpp"

namespace acoustok::onednn {

namespace {

using dnnl::memory;

constexpr size_t kMaxCachedPrimitives = 256;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::data_type dnnl_type(Precision p) { return p == Precision::BF16 ? memory::data_type::bf16 : memory::data_type::f32; }

memory::desc describe(const torch::Tensor& t) {
  TORCH_CHECK((t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16) && t.device().is_cpu(),
              "oneDNN path takes float32 or bfloat16 CPU tensors");
  return memory::desc(t.sizes().vec(), t.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32,
                      t.strides().vec());
}


// Bias [N] as oneDNN wants it: [1, N] or [1, 1, N].
memory::desc bias_desc(const memory::desc& dst) {
  const int ndims = compat::ndims(dst);
  memory::dims dims(static_cast<size_t>(ndims), 1);
  dims.back() = compat::dim(dst, ndims - 1);
  return memory::desc(dims, memory::data_type::f32, ndims == 2 ? memory::format_tag::ab : memory::format_tag::abc);
}

using compat::append_layout;

// Every primitive runs with a scratchpad the call brings (oneDNN's "user"
// mode). In the default "library" mode a primitive is handed, when it is
// created, the scratchpad of the creating thread: one buffer shared by every
// primitive that thread made. A cached primitive run from another thread
// (two elements' streaming threads) then wrote over the partial results of
// one running on the first, and features came out wrong with no error.
dnnl::primitive_attr with_user_scratchpad(dnnl::primitive_attr attr = dnnl::primitive_attr()) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// A primitive and the scratchpad it needs (zero bytes for most).
struct Runnable {
  dnnl::primitive primitive;
  memory::desc scratchpad;
};

template <class PrimitiveDesc>
Runnable runnable(const PrimitiveDesc& pd) {
  return {dnnl::primitive(pd.get()), pd.scratchpad_desc()};
}

// The OpenMP threads a primitive made now would split its work over: oneDNN
// sizes its per-thread buffers for that count when it creates the primitive,
// so a primitive is only reused by callers running as many threads.
int64_t team_size() { return at::get_num_threads(); }

// One primitive per key (layouts, options and threads), made on first use:
// creating one generates code (milliseconds), running one is the work alone.
// Shared by every model and thread of the process: a primitive holds no
// per-call state (the scratchpad is the caller's). Bounded: every new signal
// length brings a few new shapes; oneDNN keeps its own cache of recent
// primitives, so starting afresh costs little.
Runnable cached(std::string key, const std::function<Runnable()>& make) {
  static std::mutex mutex;
  static std::unordered_map<std::string, Runnable> cache;
  key += '#' + std::to_string(team_size());
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCachedPrimitives) cache.clear();
  return cache.emplace(key, make()).first->second;
}

// This thread's scratchpad: grown to the largest a primitive has asked for.
// A call runs to completion on its thread (its OpenMP workers write into it
// under it), so no two calls ever share it.
void* thread_scratchpad(size_t bytes) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, Free> buffer;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    const size_t rounded = (bytes + 4095) / 4096 * 4096;
    buffer.reset(std::aligned_alloc(4096, rounded));
    if (!buffer) throw std::bad_alloc();
    capacity = rounded;
  }
  return buffer.get();
}

// Runs a primitive on this thread's stream and scratchpad and waits for it.
void execute_primitive(const Runnable& r, std::unordered_map<int, memory> args) {
  thread_local dnnl::stream stream(cpu_engine());
  if (const size_t bytes = r.scratchpad.get_size())
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(r.scratchpad, cpu_engine(), thread_scratchpad(bytes)));
  r.primitive.execute(stream, args);
  stream.wait();
}

// dst = src in another layout or data type (f32 -> bf16 rounds to nearest even).
void reorder(const memory::desc& from_md, void* from, const memory::desc& to_md, void* to) {
  auto& engine = cpu_engine();
  memory a(from_md, engine, from), b(to_md, engine, to);
  std::string key;
  append_layout(key, from_md);
  append_layout(key, to_md);
  const Runnable prim = cached(key, [&] { return runnable(dnnl::reorder::primitive_desc(a, b, with_user_scratchpad())); });
  execute_primitive(prim, {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}});
}

// This thread's bfloat16 copy of a float32 matrix x (any strides), dense
// row-major: the input of a bf16 product.
torch::Tensor to_bf16(const torch::Tensor& x, const memory::desc& x_md) {
  thread_local torch::Tensor scratch;
  if (!scratch.defined() || scratch.numel() < x.numel()) scratch = torch::empty({x.numel()}, torch::kBFloat16);
  torch::Tensor out = scratch.narrow(0, 0, x.numel()).view(x.sizes());
  reorder(x_md, x.data_ptr(), describe(out), out.data_ptr());
  return out;
}

Runnable cached_matmul(const memory::desc& a_md, const memory::desc& b_md, const memory::desc& dst_md,
                           const MatmulOptions& o) {
  std::string key;
  append_layout(key, a_md);
  append_layout(key, b_md);
  append_layout(key, dst_md);
  key += o.bias().defined() ? 'b' : '-';
  key += o.accumulate() ? 's' : '-';
  key += o.activation() == Activation::Gelu ? 'g' : '-';
  return cached(key, [&] {
    dnnl::post_ops post;
    if (o.accumulate()) post.append_sum(1.0f);
    if (o.activation() == Activation::Gelu) compat::append_eltwise(post, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    dnnl::primitive_attr attr = with_user_scratchpad();
    attr.set_post_ops(post);
    return runnable(
        compat::matmul_pd(cpu_engine(), a_md, b_md, o.bias().defined() ? bias_desc(dst_md) : memory::desc(), dst_md, attr));
  });
}

void check_shapes(const torch::Tensor& a, int64_t b_rows, int64_t b_cols, const torch::Tensor& dst) {
  TORCH_CHECK((a.dim() == 2 || a.dim() == 3) && a.dim() == dst.dim(), "matmul takes 2-D or 3-D tensors of equal rank");
  TORCH_CHECK(a.size(-1) == b_rows && dst.size(-2) == a.size(-2) && dst.size(-1) == b_cols, "matmul shapes disagree: ",
              a.sizes(), " @ [", b_rows, ", ", b_cols, "] -> ", dst.sizes());
}

void execute(const memory::desc& a_md, void* a, const memory::desc& b_md, void* b,
             const memory::desc& dst_md, const torch::Tensor& dst, const MatmulOptions& options) {
  TORCH_CHECK(dst.scalar_type() == torch::kFloat32, "products are written in float32");
  try {
    const Runnable prim = cached_matmul(a_md, b_md, dst_md, options);
    auto& engine = cpu_engine();
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(a_md, engine, a)},
        {DNNL_ARG_WEIGHTS, memory(b_md, engine, b)},
        {DNNL_ARG_DST, memory(dst_md, engine, dst.data_ptr())},
    };
    if (options.bias().defined()) {
      TORCH_CHECK(options.bias().is_contiguous() && options.bias().numel() == dst.size(-1), "bias must be [N], contiguous");
      args.emplace(DNNL_ARG_BIAS, memory(bias_desc(dst_md), engine, options.bias().data_ptr()));
    }
    execute_primitive(prim, args);
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN matmul failed: ") + e.what());
  }
}

// ---- softmax numerators ----------------------------------------------------------

#if defined(__x86_64__)
// GCC 12 flags the _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// exp(x) for x <= 0 in 16 lanes: x = n ln2 + f with |f| <= ln2/2, e^f by its
// Taylor series to f^7 (remainder below 5e-9 relative), times 2^n.
__attribute__((target("avx512f"))) inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));  // below that e^x underflows float anyway
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split in two for exactness
  f = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), f);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Across the 16 lanes (GCC 12's _mm512_reduce_* warn in the same way).
template <class Op>
__attribute__((target("avx512f"))) float horizontal(__m512 v, Op op) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float r = lanes[0];
  for (int i = 1; i < 16; ++i) r = op(r, lanes[i]);
  return r;
}

__attribute__((target("avx512f"))) float exp_row_avx512(float* row, int64_t n) {
  const int64_t full = n & ~int64_t{15};
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1);
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < full; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(row + i));
  m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, row + full));
  const __m512 max = _mm512_set1_ps(horizontal(m, [](float a, float b) { return std::max(a, b); }));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < full; i += 16) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + i), max));
    _mm512_storeu_ps(row + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (tail) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row + full), max));
    _mm512_mask_storeu_ps(row + full, tail, e);
    sum = _mm512_mask_add_ps(sum, tail, sum, e);
  }
  return horizontal(sum, [](float a, float b) { return a + b; });
}

// erf(x) for x >= 0 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
__attribute__((target("avx512f"))) inline __m512 erf_nonnegative(__m512 x) {
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(x, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(x, x)));
  return _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
}

// GELU(y) = y / 2 (1 + erf(y / sqrt 2)), erf being odd.
__attribute__((target("avx512f"))) inline __m512 gelu(__m512 y) {
  const __m512 a = _mm512_abs_ps(_mm512_mul_ps(y, _mm512_set1_ps(0.70710678118654752f)));
  __m512 erf = erf_nonnegative(a);
  erf = _mm512_mask_sub_ps(erf, _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps(), erf);
  return _mm512_mul_ps(_mm512_mul_ps(y, _mm512_set1_ps(0.5f)), _mm512_add_ps(erf, _mm512_set1_ps(1.0f)));
}

// One row of n (a multiple of 16) values: layer norm, then GELU if asked.
__attribute__((target("avx512f"))) void norm_row_avx512(const float* x, float* y, int64_t n, const float* gamma,
                                                        const float* beta, float eps, bool with_gelu) {
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(x + i));
  const float mean = horizontal(sum, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m512 m = _mm512_set1_ps(mean);
  __m512 sq = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    sq = _mm512_fmadd_ps(d, d, sq);
  }
  const float var = horizontal(sq, [](float a, float b) { return a + b; }) / static_cast<float>(n);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(var + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), rstd);
    __m512 v = _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i));
    if (with_gelu) v = gelu(v);
    _mm512_storeu_ps(y + i, v);
  }
}

// float -> bfloat16 rounded to nearest even, 16 values at a time (finite
// values: softmax numerators); returns how many it did, a multiple of 16.
__attribute__((target("avx512f"))) int64_t round_row_to_bf16_avx512(const float* src, uint16_t* dst, int64_t n) {
  const int64_t full = n & ~int64_t{15};
  for (int64_t i = 0; i < full; i += 16) {
    const __m512i bits = _mm512_castps_si512(_mm512_loadu_ps(src + i));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(rounded));
  }
  return full;
}

#pragma GCC diagnostic pop

// ACOUSTOK_NO_AVX512=1 takes the portable paths on any CPU (the tests run
// them that way too).
bool have_avx512() {
  static const bool cpu = __builtin_cpu_supports("avx512f");
  return cpu && !std::getenv("ACOUSTOK_NO_AVX512");
}
#else
bool have_avx512() { return false; }
float exp_row_avx512(float*, int64_t) { return 0; }
int64_t round_row_to_bf16_avx512(const float*, uint16_t*, int64_t) { return 0; }
void norm_row_avx512(const float*, float*, int64_t, const float*, const float*, float, bool) {}
#endif

// The rest of a row, with c10's own rounding (the AVX-512 loop's, per value).
void round_row_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = c10::detail::round_to_nearest_even(src[i]);
}

float exp_row_scalar(float* row, int64_t n) {
  const float max = *std::max_element(row, row + n);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += row[i] = std::exp(row[i] - max);
  return sum;
}

}  // namespace

bool bf16_supported() {
  static const bool yes = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool amx_bf16 = (d >> 22) & 1;
    const bool avx512f = (b >> 16) & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return amx_bf16;
    const bool avx512_bf16 = (a >> 5) & 1;
    return (avx512f && avx512_bf16) || amx_bf16;
  }();
  return yes;
}

void matmul(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& dst, const MatmulOptions& options) {
  TORCH_CHECK(a.dim() == b.dim(), "matmul takes tensors of equal rank");
  check_shapes(a, b.size(-2), b.size(-1), dst);
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "matmul takes a and b of one type");
  execute(describe(a), a.data_ptr(), describe(b), b.data_ptr(), describe(dst), dst, options);
}

namespace {

// A weight to pack: float32, or already rounded to bfloat16 when packed for BF16.
bool is_packable(const torch::Tensor& w, Precision precision) {
  return w.scalar_type() == torch::kFloat32 || (precision == Precision::BF16 && w.scalar_type() == torch::kBFloat16);
}
memory::data_type plain_type(const torch::Tensor& w) {
  return w.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
}

// `plain` (described by plain_md) reordered to packed_md, through a per-thread
// scratch and copied back into plain's own memory when it fits (no padding):
// the weights' pages are then faulted in once, not twice, which halves the
// time packing takes. Returns the tensor that owns the packed values.
torch::Tensor reorder_in_place(const torch::Tensor& plain, const memory::desc& plain_md, const memory::desc& packed_md) {
  const size_t bytes = packed_md.get_size();
  thread_local torch::Tensor scratch;
  const int64_t floats = static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  if (!scratch.defined() || scratch.numel() < floats) scratch = torch::empty({floats});
  auto& engine = cpu_engine();
  memory from(plain_md, engine, plain.data_ptr());
  memory to(packed_md, engine, scratch.data_ptr());
  execute_primitive(runnable(dnnl::reorder::primitive_desc(from, to, with_user_scratchpad())),
                    {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  torch::Tensor owner = bytes <= plain.nbytes() ? plain : torch::empty({floats});
  std::memcpy(owner.data_ptr(), scratch.data_ptr(), bytes);
  return owner;
}

}  // namespace

struct PackedWeight::Impl {
  torch::Tensor storage;  // owns the packed values
  memory::desc desc;
  int64_t out = 0, in = 0;
  Precision precision = Precision::F32;
};

PackedWeight PackedWeight::pack(torch::Tensor weight, Precision precision) {
  TORCH_CHECK(weight.dim() == 2 && is_packable(weight, precision), "a packed weight is float32 [out, in] (or bfloat16 for BF16)");
  // Its own tensor object over the same memory: a caller that then empties
  // a registered parameter (set_data) leaves this one intact.
  weight = weight.contiguous().detach();
  const int64_t out = weight.size(0), in = weight.size(1);
  try {
    // The layout oneDNN prefers for a typical block of rows; the kernels it
    // picks for other row counts read the same layout.
    constexpr int64_t kTypicalRows = 512;
    const memory::desc a_md({kTypicalRows, in}, dnnl_type(precision), memory::format_tag::ab);
    const memory::desc b_any({in, out}, dnnl_type(precision), memory::format_tag::any);
    const memory::desc dst_md({kTypicalRows, out}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc packed_md =
        compat::matmul_pd(cpu_engine(), a_md, b_any, memory::desc(), dst_md, with_user_scratchpad()).weights_desc();
    PackedWeight p;
    p.impl_ = std::make_shared<Impl>();
    p.impl_->storage = reorder_in_place(weight, memory::desc({in, out}, plain_type(weight), memory::format_tag::ba), packed_md);
    p.impl_->desc = packed_md;
    p.impl_->out = out;
    p.impl_->in = in;
    p.impl_->precision = precision;
    return p;
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN could not pack a weight: ") + e.what());
  }
}

int64_t PackedWeight::out() const { return impl_->out; }
int64_t PackedWeight::in() const { return impl_->in; }

void linear(const torch::Tensor& x, const PackedWeight& w, const torch::Tensor& dst, const MatmulOptions& options) {
  TORCH_CHECK(w.defined() && x.dim() == 2, "linear takes x [rows, in] and a packed weight");
  check_shapes(x, w.in(), w.out(), dst);
  const memory::desc x_md = describe(x);
  if (w.impl_->precision == Precision::BF16) {
    const torch::Tensor xb = to_bf16(x, x_md);
    execute(describe(xb), xb.data_ptr(), w.impl_->desc, w.impl_->storage.data_ptr(), describe(dst), dst, options);
    return;
  }
  execute(x_md, x.data_ptr(), w.impl_->desc, w.impl_->storage.data_ptr(), describe(dst), dst, options);
}

struct PackedConv::Impl {
  torch::Tensor storage;
  memory::desc desc;
  int64_t in = 0, out = 0, kernel = 0, stride = 1, groups = 1;
  Precision precision = Precision::F32;
};

namespace {

memory::dims conv_weight_dims(int64_t in, int64_t out, int64_t kernel, int64_t groups) {
  if (groups == 1) return {out, in, kernel};
  return {groups, out / groups, in / groups, kernel};
}

// A time-major signal [T, C] (rows contiguous, any row stride) as oneDNN's
// 1-D "nwc" with one batch item.
memory::desc time_major_desc(const torch::Tensor& t) {
  TORCH_CHECK(t.dim() == 2 && t.stride(1) == 1 && (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16),
              "time-major conv takes [T, C] rows");
  return memory::desc({1, t.size(1), t.size(0)},
                      t.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32,
                      {t.size(0) * t.stride(0), 1, t.stride(0)});
}

dnnl::convolution_forward::primitive_desc conv_desc(const memory::desc& src, const memory::desc& weights, bool bias,
                                                     const memory::desc& dst, int64_t stride) {
  const memory::desc bias_md =
      bias ? memory::desc({compat::dim(dst, 1)}, memory::data_type::f32, memory::format_tag::a) : memory::desc();
  return compat::conv_pd(cpu_engine(), src, weights, bias_md, dst, {{stride}, {0}, {0}, {0}}, with_user_scratchpad());
}

}  // namespace

PackedConv PackedConv::pack(torch::Tensor weight, int64_t stride, int64_t groups, Precision precision) {
  TORCH_CHECK(weight.dim() == 3 && is_packable(weight, precision),
              "a packed conv weight is float32 [out, in / groups, k] (or bfloat16 for BF16)");
  weight = weight.contiguous().detach();
  const int64_t out = weight.size(0), in = weight.size(1) * groups, kernel = weight.size(2);
  try {
    // The layout chosen for a typical block of 512 output steps; other
    // lengths run with the same layout.
    constexpr int64_t kTypicalSteps = 512;
    const int64_t steps_in = (kTypicalSteps - 1) * stride + kernel;
    const memory::desc src({1, in, steps_in}, dnnl_type(precision), memory::format_tag::nwc);
    const memory::desc dst({1, out, kTypicalSteps}, memory::data_type::f32, memory::format_tag::nwc);
    const memory::dims wdims = conv_weight_dims(in, out, kernel, groups);
    const memory::desc any(wdims, dnnl_type(precision), memory::format_tag::any);
    const memory::desc packed_md = conv_desc(src, any, true, dst, stride).weights_desc();
    const memory::desc plain_md(wdims, plain_type(weight), groups == 1 ? memory::format_tag::oiw : memory::format_tag::goiw);
    PackedConv p;
    p.impl_ = std::make_shared<Impl>();
    p.impl_->storage = reorder_in_place(weight, plain_md, packed_md);
    p.impl_->desc = packed_md;
    p.impl_->in = in;
    p.impl_->out = out;
    p.impl_->kernel = kernel;
    p.impl_->stride = stride;
    p.impl_->groups = groups;
    p.impl_->precision = precision;
    return p;
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN could not pack a conv weight: ") + e.what());
  }
}

int64_t PackedConv::out() const { return impl_->out; }
int64_t PackedConv::kernel() const { return impl_->kernel; }
int64_t PackedConv::stride() const { return impl_->stride; }

void PackedConv::run(const torch::Tensor& x, const torch::Tensor& bias, const torch::Tensor& dst) const {
  const Impl& c = *impl_;
  TORCH_CHECK(x.dim() == 2 && x.size(1) == c.in && dst.dim() == 2 && dst.size(1) == c.out, "conv shapes disagree: ", x.sizes(),
              " -> ", dst.sizes());
  TORCH_CHECK(x.size(0) >= (dst.size(0) - 1) * c.stride + c.kernel, "conv input of ", x.size(0), " steps is too short for ",
              dst.size(0), " outputs");
  // Exactly the input the outputs read.
  torch::Tensor in = x.narrow(0, 0, (dst.size(0) - 1) * c.stride + c.kernel);
  if (c.precision == Precision::BF16) in = to_bf16(in, describe(in));
  const memory::desc src_md = time_major_desc(in), dst_md = time_major_desc(dst);
  const bool with_bias = bias.defined();
  try {
    std::string key;
    append_layout(key, src_md);
    append_layout(key, c.desc);
    append_layout(key, dst_md);
    key += std::to_string(c.stride) + (with_bias ? "b" : "-");
    const Runnable prim = cached(key, [&] { return runnable(conv_desc(src_md, c.desc, with_bias, dst_md, c.stride)); });
    auto& engine = cpu_engine();
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(src_md, engine, in.data_ptr())},
        {DNNL_ARG_WEIGHTS, memory(c.desc, engine, c.storage.data_ptr())},
        {DNNL_ARG_DST, memory(dst_md, engine, dst.data_ptr())},
    };
    if (with_bias) {
      TORCH_CHECK(bias.is_contiguous() && bias.numel() == c.out, "conv bias must be [out], contiguous");
      args.emplace(DNNL_ARG_BIAS, memory(memory::desc({c.out}, memory::data_type::f32, memory::format_tag::a), engine, bias.data_ptr()));
    }
    execute_primitive(prim, args);
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN convolution failed: ") + e.what());
  }
}

struct TimeConv::Impl {
  torch::Tensor weights;  // packed as `weights_md`
  torch::Tensor bias;
  memory::desc weights_md;
  int64_t in = 0, out = 0, kernel = 0;
  TimeConvOptions options;
  // This convolution's primitives by {steps in, pad left, pad right, steps
  // out, accumulate, leaky slope bits}: a lookup without building a text key
  // (a stream runs ~200 convolutions per chunk; under ASan's slow unwinder
  // every small allocation of a text key cost as much as the convolution),
  // and the threads it was made for.
  using Key = std::array<int64_t, 7>;
  std::mutex mutex;
  std::map<Key, Runnable> primitives;
};

namespace {

// oneDNN's descriptions of one TimeConv over `steps_in` input steps; the
// weights described by `weights` (format any: oneDNN's choice).
struct TimeConvDescs {
  memory::desc src, dst, bias;
};

TimeConvDescs time_conv_descs(int64_t in, int64_t out, int64_t steps_in, int64_t steps_out) {
  return {memory::desc({1, in, steps_in}, memory::data_type::f32, memory::format_tag::nwc),
          memory::desc({1, out, steps_out}, memory::data_type::f32, memory::format_tag::nwc),
          memory::desc({out}, memory::data_type::f32, memory::format_tag::a)};
}

dnnl::primitive_desc time_conv_pd(const TimeConvDescs& d, const memory::desc& weights, const TimeConvOptions& o,
                                  int64_t pad_l, int64_t pad_r, bool accumulate, float leaky_slope) {
  dnnl::post_ops post;
  if (accumulate) post.append_sum(1.0f);
  if (leaky_slope >= 0.0f) compat::append_eltwise(post, dnnl::algorithm::eltwise_relu, leaky_slope, 0.0f);
  dnnl::primitive_attr attr = with_user_scratchpad();
  attr.set_post_ops(post);
  const memory::dims stride{o.stride()}, left{pad_l}, right{pad_r}, dilation{o.dilation() - 1};  // oneDNN counts dilation from 0
  const compat::Window window{stride, dilation, left, right};
  if (o.transposed()) return compat::deconv_pd(cpu_engine(), d.src, weights, d.bias, d.dst, window, attr);
  return compat::conv_pd(cpu_engine(), d.src, weights, d.bias, d.dst, window, attr);
}

}  // namespace

TimeConv TimeConv::pack(const torch::Tensor& weight, const torch::Tensor& bias, const TimeConvOptions& o) {
  TORCH_CHECK(weight.dim() == 3 && weight.scalar_type() == torch::kFloat32 && bias.dim() == 1,
              "a time conv takes a float32 weight [out, in, k] ([in, out, k] transposed) and a bias [out]");
  TORCH_CHECK(o.stride() >= 1 && o.dilation() >= 1 && o.padding() >= 0, "time conv: bad stride, dilation or padding");
  const torch::Tensor w = weight.detach().contiguous();
  auto impl = std::make_shared<Impl>();
  impl->options = o;
  impl->in = o.transposed() ? w.size(0) : w.size(1);
  impl->out = o.transposed() ? w.size(1) : w.size(0);
  impl->kernel = w.size(2);
  TORCH_CHECK(bias.numel() == impl->out, "time conv: bias of ", bias.numel(), " for ", impl->out, " outputs");
  impl->bias = bias.detach().to(torch::kFloat32).contiguous().clone();
  TimeConv c;
  c.impl_ = impl;
  try {
    // The layout oneDNN picks for a typical 4096 input steps; other lengths
    // run with the same layout.
    constexpr int64_t kTypicalSteps = 4096;
    const memory::dims wdims{impl->out, impl->in, impl->kernel};
    const memory::desc any(wdims, memory::data_type::f32, memory::format_tag::any);
    impl->weights_md =
        time_conv_pd(time_conv_descs(impl->in, impl->out, kTypicalSteps, c.out_steps(kTypicalSteps)), any, o, o.padding(),
                     o.padding(), false, -1.0f)
            .weights_desc();
    // PyTorch's layouts, as oneDNN's [out, in, k] dims with strides.
    const int64_t k = impl->kernel;
    const memory::desc plain_md(wdims, memory::data_type::f32,
                                o.transposed() ? memory::dims{k, impl->out * k, 1} : memory::dims{impl->in * k, k, 1});
    impl->weights = torch::empty({static_cast<int64_t>((impl->weights_md.get_size() + 3) / 4)});
    reorder(plain_md, w.data_ptr(), impl->weights_md, impl->weights.data_ptr());
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN could not pack a conv weight: ") + e.what());
  }
  return c;
}

int64_t TimeConv::in() const { return impl_->in; }
int64_t TimeConv::out() const { return impl_->out; }

int64_t TimeConv::out_steps(int64_t in_steps) const {
  const Impl& c = *impl_;
  const TimeConvOptions& o = c.options;
  const int64_t reach = o.dilation() * (c.kernel - 1);
  if (o.transposed()) return (in_steps - 1) * o.stride() - 2 * o.padding() + reach + 1;
  return (in_steps + 2 * o.padding() - reach - 1) / o.stride() + 1;
}

namespace {

// Output steps per convolution primitive: oneDNN's brgconv spends time and
// memory on every output position when it is created (0.7 s and 3.6 GB for
// 160000 steps of 2 channels, more than 24 GB for 1.1 million), so longer
// signals run as tiles of this many steps.
constexpr int64_t kTileSteps = 4096;
// A tile shorter than that (a short signal, the last tile) runs as the next
// multiple of kStepQuantum, on zero-extended copies: creating a primitive
// costs milliseconds, and a stream of varying chunk lengths would otherwise
// create new ones for every layer at every new length.
constexpr int64_t kStepQuantum = 512;
// Primitives one convolution keeps: its tile kinds (first, inner, last) times
// the quanta a stream visits.
constexpr size_t kMaxPrimitivesPerConv = 64;

int64_t round_up(int64_t v, int64_t q) { return (v + q - 1) / q * q; }

}  // namespace

void TimeConv::run(const torch::Tensor& x, const torch::Tensor& dst, bool accumulate, float leaky_slope) const {
  const Impl& c = *impl_;
  const TimeConvOptions& o = c.options;
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && x.scalar_type() == torch::kFloat32 && x.size(1) == c.in && dst.dim() == 2 &&
                  dst.is_contiguous() && dst.scalar_type() == torch::kFloat32 && dst.size(1) == c.out,
              "time conv shapes disagree: ", x.sizes(), " -> ", dst.sizes());
  TORCH_CHECK(x.size(0) >= 1 && out_steps(x.size(0)) == dst.size(0), "time conv of ", x.size(0), " steps makes ",
              out_steps(x.size(0)), ", not ", dst.size(0));
  auto& engine = cpu_engine();
  // One primitive: src rows [steps_in, in] with the given zero padding ->
  // dst rows [steps_out, out].
  const auto execute = [&](const float* src, int64_t steps_in, int64_t pad_l, int64_t pad_r, float* out, int64_t steps_out) {
    const TimeConvDescs d = time_conv_descs(c.in, c.out, steps_in, steps_out);
    uint32_t slope_bits = 0;
    std::memcpy(&slope_bits, &leaky_slope, sizeof slope_bits);
    const Impl::Key key{steps_in, pad_l, pad_r, steps_out, accumulate ? 1 : 0, slope_bits, team_size()};
    Runnable prim;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      auto it = impl_->primitives.find(key);
      if (it == impl_->primitives.end()) {
        if (impl_->primitives.size() >= kMaxPrimitivesPerConv) impl_->primitives.clear();
        it = impl_->primitives
                 .emplace(key, runnable(time_conv_pd(d, c.weights_md, o, pad_l, pad_r, accumulate, leaky_slope)))
                 .first;
      }
      prim = it->second;
    }
    execute_primitive(prim, {{DNNL_ARG_SRC, memory(d.src, engine, const_cast<float*>(src))},
                             {DNNL_ARG_WEIGHTS, memory(c.weights_md, engine, c.weights.data_ptr())},
                             {DNNL_ARG_BIAS, memory(d.bias, engine, c.bias.data_ptr())},
                             {DNNL_ARG_DST, memory(d.dst, engine, out)}});
  };
  // Inputs [from, to) of x, padding pad_l and pad_r -> dst rows [row, row +
  // steps_out). Runs `padded_out` >= steps_out outputs on copies when they
  // differ: the input extended with zeros to padded_in steps (which is what a
  // convolution's padding reads; `copy_pad_r` is the right padding then, 0
  // for a convolution, the cropping for a deconvolution), the extra outputs
  // dropped.
  const auto run_part = [&](int64_t from, int64_t to, int64_t pad_l, int64_t pad_r, int64_t row, int64_t steps_out,
                            int64_t padded_out, int64_t padded_in, int64_t copy_pad_r) {
    float* out = dst.data_ptr<float>() + row * c.out;
    if (padded_out == steps_out) {
      execute(x.data_ptr<float>() + from * c.in, to - from, pad_l, pad_r, out, steps_out);
      return;
    }
    torch::Tensor src = torch::zeros({padded_in, c.in});
    src.narrow(0, 0, to - from).copy_(x.narrow(0, from, to - from));
    torch::Tensor part = accumulate ? torch::zeros({padded_out, c.out}) : torch::empty({padded_out, c.out});
    torch::Tensor kept = dst.narrow(0, row, steps_out);
    if (accumulate) part.narrow(0, 0, steps_out).copy_(kept);
    execute(src.data_ptr<float>(), padded_in, pad_l, copy_pad_r, part.data_ptr<float>(), padded_out);
    kept.copy_(part.narrow(0, 0, steps_out));
  };
  try {
    const int64_t steps = x.size(0);
    if (o.transposed()) {  // one piece (oneDNN's deconvolutions are cheap to create at any length), inputs quantised
      const int64_t padded_in = std::max<int64_t>(steps, round_up(steps, std::max<int64_t>(1, kStepQuantum / o.stride())));
      run_part(0, steps, o.padding(), o.padding(), 0, dst.size(0), out_steps(padded_in), padded_in, o.padding());
      return;
    }
    const int64_t reach = o.dilation() * (c.kernel - 1) + 1;
    for (int64_t first = 0; first < dst.size(0); first += kTileSteps) {
      const int64_t last = std::min(dst.size(0), first + kTileSteps);  // outputs [first, last)
      // The inputs they read, [lo, hi) before clipping to the signal: the
      // clipped part is the tile's zero padding.
      const int64_t lo = first * o.stride() - o.padding(), hi = (last - 1) * o.stride() - o.padding() + reach;
      const int64_t from = std::max<int64_t>(0, lo), to = std::min(steps, hi);
      const int64_t padded_out = round_up(last - first, kStepQuantum);
      // Inputs of padded_out outputs, less the left padding.
      const int64_t padded_in = (padded_out - 1) * o.stride() + reach - (from - lo);
      run_part(from, to, from - lo, hi - to, first, last - first, padded_out, padded_in, 0);
    }
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN convolution failed: ") + e.what());
  }
}

void layer_norm_rows(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta, double eps, bool with_gelu,
                     const torch::Tensor& dst) {
  TORCH_CHECK(x.dim() == 2 && dst.sizes() == x.sizes() && x.stride(1) == 1 && dst.stride(1) == 1,
              "layer_norm_rows takes [rows, C] with contiguous rows");
  const int64_t C = x.size(1);
  if (!have_avx512() || C % 16 != 0) {
    const torch::Tensor y = torch::layer_norm(x, {C}, gamma, beta, eps);
    dst.copy_(with_gelu ? torch::gelu(y) : y);
    return;
  }
  const torch::Tensor g = gamma.contiguous(), b = beta.contiguous();
  const float* xp = x.data_ptr<float>();
  float* yp = dst.data_ptr<float>();
  const int64_t xs = x.stride(0), ys = dst.stride(0);
  at::parallel_for(0, x.size(0), 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      norm_row_avx512(xp + r * xs, yp + r * ys, C, g.data_ptr<float>(), b.data_ptr<float>(), static_cast<float>(eps), with_gelu);
    }
  });
}

void softmax_numerators(const torch::Tensor& scores, const torch::Tensor& inv_sum, const torch::Tensor& as_bf16) {
  TORCH_CHECK(scores.dim() == 2 && scores.is_contiguous() && scores.scalar_type() == torch::kFloat32,
              "softmax_numerators takes a contiguous float32 [rows, cols] block");
  TORCH_CHECK(inv_sum.is_contiguous() && inv_sum.numel() == scores.size(0), "inv_sum needs one value per row");
  TORCH_CHECK(!as_bf16.defined() || (as_bf16.scalar_type() == torch::kBFloat16 && as_bf16.is_contiguous() &&
                                     as_bf16.sizes() == scores.sizes()),
              "the bf16 numerators are a contiguous bfloat16 block of the scores' shape");
  const int64_t cols = scores.size(1);
  float* data = scores.data_ptr<float>();
  float* inv = inv_sum.data_ptr<float>();
  uint16_t* out16 = as_bf16.defined() ? reinterpret_cast<uint16_t*>(as_bf16.data_ptr()) : nullptr;
  const bool simd = have_avx512();
  at::parallel_for(0, scores.size(0), 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = data + r * cols;
      inv[r] = 1.0f / (simd ? exp_row_avx512(row, cols) : exp_row_scalar(row, cols));
      if (out16) {  // while the row is in cache
        const int64_t done = simd ? round_row_to_bf16_avx512(row, out16 + r * cols, cols) : 0;
        round_row_to_bf16(row + done, out16 + r * cols + done, cols - done);
      }
    }
  });
}

}  // namespace acoustok::onednn
