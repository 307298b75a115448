// SPDX-License-Identifier: MIT
// Over 600 lines on purpose: every oneDNN primitive the models run (matrix
// products, packed weights, convolutions over time) goes through the one
// engine, primitive cache and workspace defined at the top; the row kernels
// (layer norm, GELU, softmax) live in row_kernels.cpp.
#include "common/torch/onednn_ops.hpp"

#include <ATen/Parallel.h>
#include <cpuid.h>

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
#include "common/cpu_isa.hpp"
#include "common/torch/onednn_compat.hpp"

namespace acoustok::onednn {

namespace {

using dnnl::memory;

constexpr size_t kMaxCachedPrimitives = 256;

// ACOUSTOK_MAX_CPU_ISA caps oneDNN's dispatch too: the JIT kernels of our
// primitives (and of ATen's where LibTorch links this same libdnnl, as
// Debian's does). oneDNN takes the cap only before its first primitive, so it
// is set when this library loads and, failing that, before our engine. avx512
// (or no cap) leaves oneDNN its own choice, AVX512_BF16 and AMX included.
bool cap_onednn_isa() {
  static const bool done = [] {
    try {
      if (!common::cpu_isa_capped()) return true;
    } catch (const Error&) {
      return false;  // refused where cpu_isa() is asked next
    }
    const bool avx2 = common::cpu_isa() == common::CpuIsa::avx2;
    // Fails only where oneDNN dispatched already or was built without the control.
    return dnnl_set_max_cpu_isa(avx2 ? dnnl_cpu_isa_avx2 : dnnl_cpu_isa_sse41) == dnnl_success;
  }();
  return done;
}
[[maybe_unused]] const bool kCappedAtLoad = cap_onednn_isa();

dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    cap_onednn_isa();
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

memory::data_type dnnl_type(Precision p) {
  return p == Precision::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
}

memory::desc describe(const torch::Tensor& t) {
  TORCH_CHECK(
      (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16) && t.device().is_cpu(),
      "oneDNN path takes float32 or bfloat16 CPU tensors");
  return memory::desc(t.sizes().vec(),
                      t.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32,
                      t.strides().vec());
}

// Bias [N] as oneDNN wants it: [1, N] or [1, 1, N].
memory::desc bias_desc(const memory::desc& dst) {
  const int ndims = compat::ndims(dst);
  memory::dims dims(static_cast<size_t>(ndims), 1);
  dims.back() = compat::dim(dst, ndims - 1);
  return memory::desc(dims, memory::data_type::f32,
                      ndims == 2 ? memory::format_tag::ab : memory::format_tag::abc);
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

}  // namespace

// The Workspace in scope on this thread (not owned: its model owns it).
static thread_local Workspace* current_workspace = nullptr;

struct Workspace::Impl {
  std::array<torch::Tensor, static_cast<size_t>(Slot::count)> tensors;
};

Workspace::Workspace() : impl_(std::make_unique<Impl>()) {}
Workspace::~Workspace() = default;

Workspace::Scope::Scope(Workspace& workspace) : previous_(current_workspace) {
  current_workspace = &workspace;
}
Workspace::Scope::~Scope() { current_workspace = previous_; }

torch::Tensor Workspace::scratch(Slot slot, int64_t numel, torch::ScalarType type) {
  if (!current_workspace) return torch::empty({numel}, type);
  torch::Tensor& kept = current_workspace->impl_->tensors[static_cast<size_t>(slot)];
  if (!kept.defined() || kept.numel() < numel || kept.scalar_type() != type)
    kept = torch::empty({numel}, type);
  return kept.narrow(0, 0, numel);
}

namespace {

// Runs a primitive on this thread's stream and waits for it, its scratchpad
// page-aligned in the Workspace in scope. A call runs to completion on its
// thread (its OpenMP workers write into the scratchpad under it), so no two
// calls ever share one. The stream is a handle on the engine, no memory of
// its own to speak of.
void execute_primitive(const Runnable& r, std::unordered_map<int, memory> args) {
  thread_local dnnl::stream stream(cpu_engine());
  torch::Tensor scratchpad;  // kept alive until the primitive is done
  if (const size_t bytes = r.scratchpad.get_size()) {
    constexpr size_t kPage = 4096;
    scratchpad = Workspace::scratch(Workspace::Slot::scratchpad, static_cast<int64_t>(bytes + kPage - 1),
                                    torch::kUInt8);
    const auto at = reinterpret_cast<uintptr_t>(scratchpad.data_ptr());
    void* aligned = reinterpret_cast<void*>((at + kPage - 1) / kPage * kPage);
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(r.scratchpad, cpu_engine(), aligned));
  }
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
  const Runnable prim =
      cached(key, [&] { return runnable(dnnl::reorder::primitive_desc(a, b, with_user_scratchpad())); });
  execute_primitive(prim, {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}});
}

// A bfloat16 copy of a float32 matrix x (any strides), dense row-major, in
// the Workspace in scope: the input of a bf16 product.
torch::Tensor to_bf16(const torch::Tensor& x, const memory::desc& x_md) {
  torch::Tensor out =
      Workspace::scratch(Workspace::Slot::bf16_input, x.numel(), torch::kBFloat16).view(x.sizes());
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
    if (o.activation() == Activation::Gelu)
      compat::append_eltwise(post, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    dnnl::primitive_attr attr = with_user_scratchpad();
    attr.set_post_ops(post);
    return runnable(compat::matmul_pd(cpu_engine(), a_md, b_md,
                                      o.bias().defined() ? bias_desc(dst_md) : memory::desc(), dst_md, attr));
  });
}

void check_shapes(const torch::Tensor& a, int64_t b_rows, int64_t b_cols, const torch::Tensor& dst) {
  TORCH_CHECK((a.dim() == 2 || a.dim() == 3) && a.dim() == dst.dim(),
              "matmul takes 2-D or 3-D tensors of equal rank");
  TORCH_CHECK(a.size(-1) == b_rows && dst.size(-2) == a.size(-2) && dst.size(-1) == b_cols,
              "matmul shapes disagree: ", a.sizes(), " @ [", b_rows, ", ", b_cols, "] -> ", dst.sizes());
}

void execute(const memory::desc& a_md, void* a, const memory::desc& b_md, void* b, const memory::desc& dst_md,
             const torch::Tensor& dst, const MatmulOptions& options) {
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
      TORCH_CHECK(options.bias().is_contiguous() && options.bias().numel() == dst.size(-1),
                  "bias must be [N], contiguous");
      args.emplace(DNNL_ARG_BIAS, memory(bias_desc(dst_md), engine, options.bias().data_ptr()));
    }
    execute_primitive(prim, args);
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN matmul failed: ") + e.what());
  }
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
  // Both are AVX-512 extensions, out of reach under a lower ACOUSTOK_MAX_CPU_ISA.
  return yes && common::cpu_isa() == common::CpuIsa::avx512;
}

void matmul(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& dst,
            const MatmulOptions& options) {
  TORCH_CHECK(a.dim() == b.dim(), "matmul takes tensors of equal rank");
  check_shapes(a, b.size(-2), b.size(-1), dst);
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "matmul takes a and b of one type");
  execute(describe(a), a.data_ptr(), describe(b), b.data_ptr(), describe(dst), dst, options);
}

namespace {

// A weight to pack: float32, or already rounded to bfloat16 when packed for BF16.
bool is_packable(const torch::Tensor& w, Precision precision) {
  return w.scalar_type() == torch::kFloat32 ||
         (precision == Precision::BF16 && w.scalar_type() == torch::kBFloat16);
}
memory::data_type plain_type(const torch::Tensor& w) {
  return w.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
}

// `plain` (described by plain_md) reordered to packed_md, through the
// Workspace's packing scratch and copied back into plain's own memory when it fits (no padding):
// the weights' pages are then faulted in once, not twice, which halves the
// time packing takes. Returns the tensor that owns the packed values.
torch::Tensor reorder_in_place(const torch::Tensor& plain, const memory::desc& plain_md,
                               const memory::desc& packed_md) {
  const size_t bytes = packed_md.get_size();
  const int64_t floats = static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  const torch::Tensor scratch = Workspace::scratch(Workspace::Slot::packing, floats, torch::kFloat32);
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
  TORCH_CHECK(weight.dim() == 2 && is_packable(weight, precision),
              "a packed weight is float32 [out, in] (or bfloat16 for BF16)");
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
        compat::matmul_pd(cpu_engine(), a_md, b_any, memory::desc(), dst_md, with_user_scratchpad())
            .weights_desc();
    PackedWeight p;
    p.impl_ = std::make_shared<Impl>();
    p.impl_->storage = reorder_in_place(
        weight, memory::desc({in, out}, plain_type(weight), memory::format_tag::ba), packed_md);
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

void linear(const torch::Tensor& x, const PackedWeight& w, const torch::Tensor& dst,
            const MatmulOptions& options) {
  TORCH_CHECK(w.defined() && x.dim() == 2, "linear takes x [rows, in] and a packed weight");
  check_shapes(x, w.in(), w.out(), dst);
  const memory::desc x_md = describe(x);
  if (w.impl_->precision == Precision::BF16) {
    const torch::Tensor xb = to_bf16(x, x_md);
    execute(describe(xb), xb.data_ptr(), w.impl_->desc, w.impl_->storage.data_ptr(), describe(dst), dst,
            options);
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
  TORCH_CHECK(t.dim() == 2 && t.stride(1) == 1 &&
                  (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16),
              "time-major conv takes [T, C] rows");
  return memory::desc({1, t.size(1), t.size(0)},
                      t.scalar_type() == torch::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32,
                      {t.size(0) * t.stride(0), 1, t.stride(0)});
}

dnnl::convolution_forward::primitive_desc conv_desc(const memory::desc& src, const memory::desc& weights,
                                                    bool bias, const memory::desc& dst, int64_t stride) {
  const memory::desc bias_md =
      bias ? memory::desc({compat::dim(dst, 1)}, memory::data_type::f32, memory::format_tag::a)
           : memory::desc();
  return compat::conv_pd(cpu_engine(), src, weights, bias_md, dst, {{stride}, {0}, {0}, {0}},
                         with_user_scratchpad());
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
    const memory::desc plain_md(wdims, plain_type(weight),
                                groups == 1 ? memory::format_tag::oiw : memory::format_tag::goiw);
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
  TORCH_CHECK(x.dim() == 2 && x.size(1) == c.in && dst.dim() == 2 && dst.size(1) == c.out,
              "conv shapes disagree: ", x.sizes(), " -> ", dst.sizes());
  TORCH_CHECK(x.size(0) >= (dst.size(0) - 1) * c.stride + c.kernel, "conv input of ", x.size(0),
              " steps is too short for ", dst.size(0), " outputs");
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
    const Runnable prim =
        cached(key, [&] { return runnable(conv_desc(src_md, c.desc, with_bias, dst_md, c.stride)); });
    auto& engine = cpu_engine();
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(src_md, engine, in.data_ptr())},
        {DNNL_ARG_WEIGHTS, memory(c.desc, engine, c.storage.data_ptr())},
        {DNNL_ARG_DST, memory(dst_md, engine, dst.data_ptr())},
    };
    if (with_bias) {
      TORCH_CHECK(bias.is_contiguous() && bias.numel() == c.out, "conv bias must be [out], contiguous");
      args.emplace(DNNL_ARG_BIAS, memory(memory::desc({c.out}, memory::data_type::f32, memory::format_tag::a),
                                         engine, bias.data_ptr()));
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

dnnl::primitive_desc time_conv_pd(const TimeConvDescs& d, const memory::desc& weights,
                                  const TimeConvOptions& o, int64_t pad_l, int64_t pad_r, bool accumulate,
                                  float leaky_slope) {
  dnnl::post_ops post;
  if (accumulate) post.append_sum(1.0f);
  if (leaky_slope >= 0.0f) compat::append_eltwise(post, dnnl::algorithm::eltwise_relu, leaky_slope, 0.0f);
  dnnl::primitive_attr attr = with_user_scratchpad();
  attr.set_post_ops(post);
  const memory::dims stride{o.stride()}, left{pad_l}, right{pad_r},
      dilation{o.dilation() - 1};  // oneDNN counts dilation from 0
  const compat::Window window{stride, dilation, left, right};
  if (o.transposed()) return compat::deconv_pd(cpu_engine(), d.src, weights, d.bias, d.dst, window, attr);
  return compat::conv_pd(cpu_engine(), d.src, weights, d.bias, d.dst, window, attr);
}

}  // namespace

TimeConv TimeConv::pack(const torch::Tensor& weight, const torch::Tensor& bias, const TimeConvOptions& o) {
  TORCH_CHECK(weight.dim() == 3 && weight.scalar_type() == torch::kFloat32 && bias.dim() == 1,
              "a time conv takes a float32 weight [out, in, k] ([in, out, k] transposed) and a bias [out]");
  TORCH_CHECK(o.stride() >= 1 && o.dilation() >= 1 && o.padding() >= 0,
              "time conv: bad stride, dilation or padding");
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
        time_conv_pd(time_conv_descs(impl->in, impl->out, kTypicalSteps, c.out_steps(kTypicalSteps)), any, o,
                     o.padding(), o.padding(), false, -1.0f)
            .weights_desc();
    // PyTorch's layouts, as oneDNN's [out, in, k] dims with strides.
    const int64_t k = impl->kernel;
    const memory::desc plain_md(
        wdims, memory::data_type::f32,
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
// memory on every output position when it is created (gigabytes for ten
// seconds of audio, README.md "Speed"), so longer signals run as tiles of this
// many steps.
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

void TimeConv::run(const torch::Tensor& x, const torch::Tensor& dst, bool accumulate,
                   float leaky_slope) const {
  const Impl& c = *impl_;
  const TimeConvOptions& o = c.options;
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && x.scalar_type() == torch::kFloat32 && x.size(1) == c.in &&
                  dst.dim() == 2 && dst.is_contiguous() && dst.scalar_type() == torch::kFloat32 &&
                  dst.size(1) == c.out,
              "time conv shapes disagree: ", x.sizes(), " -> ", dst.sizes());
  TORCH_CHECK(x.size(0) >= 1 && out_steps(x.size(0)) == dst.size(0), "time conv of ", x.size(0),
              " steps makes ", out_steps(x.size(0)), ", not ", dst.size(0));
  auto& engine = cpu_engine();
  // One primitive: src rows [steps_in, in] with the given zero padding ->
  // dst rows [steps_out, out].
  const auto execute = [&](const float* src, int64_t steps_in, int64_t pad_l, int64_t pad_r, float* out,
                           int64_t steps_out) {
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
                 .emplace(key,
                          runnable(time_conv_pd(d, c.weights_md, o, pad_l, pad_r, accumulate, leaky_slope)))
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
  const auto run_part = [&](int64_t from, int64_t to, int64_t pad_l, int64_t pad_r, int64_t row,
                            int64_t steps_out, int64_t padded_out, int64_t padded_in, int64_t copy_pad_r) {
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
    if (o.transposed()) {  // one piece (oneDNN's deconvolutions are cheap to create at any length), inputs
                           // quantised
      const int64_t padded_in =
          std::max<int64_t>(steps, round_up(steps, std::max<int64_t>(1, kStepQuantum / o.stride())));
      run_part(0, steps, o.padding(), o.padding(), 0, dst.size(0), out_steps(padded_in), padded_in,
               o.padding());
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

}  // namespace acoustok::onednn
