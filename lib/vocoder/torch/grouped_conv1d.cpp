// SPDX-License-Identifier: MIT
#include "vocoder/torch/grouped_conv1d.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "vocoder/torch/grouped_conv1d_kernels.hpp"

namespace acoustok::vocoder {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Output rows per work item of the correlations: a multiple of every
// register tile's height (6, 12, 14), a few hundred kilobytes of input.
constexpr int64_t kRowChunk = 168;
// Rows per call of the weight-gradient kernel: its input and output rows stay in L2.
constexpr int64_t kGradientRows = 256;

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

struct Shape {
  int64_t batch, time, in, out, groups, in_g, out_g, taps, stride, padding, time_out;
  Shape(const torch::Tensor& x, const torch::Tensor& w, int64_t s, int64_t p, int64_t g)
      : batch(x.size(0)),
        time(x.size(2)),
        in(x.size(1)),
        out(w.size(0)),
        groups(g),
        in_g(w.size(1)),
        out_g(w.size(0) / g),
        taps(w.size(2)),
        stride(s),
        padding(p),
        time_out((x.size(2) + 2 * p - w.size(2)) / s + 1) {}
};

// [batch, channels, time] (any strides) -> [batch, left + time + right, channels], zeros around.
torch::Tensor padded_time_major(const torch::Tensor& x, int64_t left, int64_t right) {
  const int64_t t = x.size(2);
  auto out = torch::empty({x.size(0), left + t + right, x.size(1)}, x.options());
  if (left > 0) out.narrow(1, 0, left).zero_();
  if (right > 0) out.narrow(1, left + t, right).zero_();
  out.narrow(1, left, t).copy_(x.transpose(1, 2));
  return out;
}

// Work items of the correlations: (group, batch, chunk of rows), groups
// outermost so that a thread's contiguous range keeps few groups' weights hot.
template <typename Fn>
void for_each_chunk(int64_t groups, int64_t batch, int64_t rows, const Fn& fn) {
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  at::parallel_for(0, groups * batch * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t chunk = item % chunks, b = item / chunks % batch, g = item / chunks / batch;
      const int64_t row0 = chunk * kRowChunk;
      fn(g, b, row0, std::min(kRowChunk, rows - row0));
    }
  });
}

torch::Tensor forward_rows(const Shape& sh, const torch::Tensor& xp, const torch::Tensor& weight,
                           const torch::Tensor& bias) {
  // weight [out, in_g, taps] -> [groups, taps, in_g, out_g]: a window's (tap, channel) by output channel.
  const auto w = weight.reshape({sh.groups, sh.out_g, sh.in_g, sh.taps}).permute({0, 3, 2, 1}).contiguous();
  const auto b = bias.defined() ? bias.contiguous() : torch::Tensor();
  auto y = torch::empty({sh.batch, sh.time_out, sh.out}, xp.options());  // time-major
  const float* xd = xp.data_ptr<float>();
  const float* wd = w.data_ptr<float>();
  const float* bd = b.defined() ? b.data_ptr<float>() : nullptr;
  float* yd = y.data_ptr<float>();
  const int64_t xp_time = xp.size(1);
  for_each_chunk(sh.groups, sh.batch, sh.time_out, [&](int64_t g, int64_t bi, int64_t row0, int64_t rows) {
    kernels::Correlation c;
    c.in = xd + (bi * xp_time + row0 * sh.stride) * sh.in + g * sh.in_g;
    c.in_row = sh.in;
    c.in_step = sh.stride;
    c.taps = sh.taps;
    c.cin = sh.in_g;
    c.w = wd + g * sh.taps * sh.in_g * sh.out_g;
    c.cout = sh.out_g;
    c.bias = bd ? bd + g * sh.out_g : nullptr;
    c.out = yd + (bi * sh.time_out + row0) * sh.out + g * sh.out_g;
    c.out_row = sh.out;
    c.rows = rows;
    kernels::correlate(c);
  });
  return y;
}

// The input's gradient, one phase of the stride at a time: input rows
// tau = q * stride + r - padding (r fixed) receive dy[q - m] through taps
// r + m * stride, a stride-1 correlation of dy with those taps reversed.
torch::Tensor input_gradient(const Shape& sh, const torch::Tensor& dy, const torch::Tensor& weight) {
  struct Phase {
    int64_t taps = 0, q_lo = 0, q_hi = -1;  // q in [q_lo, q_hi]
    torch::Tensor w;                        // [groups, taps, out_g, in_g]
  };
  std::vector<Phase> phases(static_cast<size_t>(sh.stride));
  int64_t left = 0, right = 0;
  const auto w4 = weight.reshape({sh.groups, sh.out_g, sh.in_g, sh.taps});
  for (int64_t r = 0; r < sh.stride; ++r) {
    Phase& ph = phases[static_cast<size_t>(r)];
    ph.taps = (sh.taps - r + sh.stride - 1) / sh.stride;
    ph.q_lo = ceil_div(sh.padding - r, sh.stride);
    ph.q_hi = floor_div(sh.time - 1 + sh.padding - r, sh.stride);
    if (ph.q_hi < ph.q_lo) continue;
    left = std::max(left, ph.taps - 1 - ph.q_lo);
    right = std::max(right, ph.q_hi + 1 - sh.time_out);
    std::vector<int64_t> taps;
    for (int64_t m = ph.taps - 1; m >= 0; --m) taps.push_back(r + m * sh.stride);
    ph.w = w4.index_select(3, torch::tensor(taps)).permute({0, 3, 1, 2}).contiguous();
  }
  const auto dyp = padded_time_major(dy, left, right);  // [batch, left + time_out + right, out]
  auto dx = torch::empty({sh.batch, sh.time, sh.in}, dy.options());
  const float* yd = dyp.data_ptr<float>();
  float* xd = dx.data_ptr<float>();
  const int64_t dyp_time = dyp.size(1);
  for (const Phase& ph : phases) {
    if (ph.q_hi < ph.q_lo) continue;
    const int64_t r = &ph - phases.data();
    const float* wd = ph.w.data_ptr<float>();
    for_each_chunk(sh.groups, sh.batch, ph.q_hi - ph.q_lo + 1,
                   [&](int64_t g, int64_t bi, int64_t row0, int64_t rows) {
                     const int64_t q0 = ph.q_lo + row0;
                     kernels::Correlation c;
                     c.in = yd + (bi * dyp_time + q0 - (ph.taps - 1) + left) * sh.out + g * sh.out_g;
                     c.in_row = sh.out;
                     c.in_step = 1;
                     c.taps = ph.taps;
                     c.cin = sh.out_g;
                     c.w = wd + g * ph.taps * sh.out_g * sh.in_g;
                     c.cout = sh.in_g;
                     c.out = xd + (bi * sh.time + q0 * sh.stride + r - sh.padding) * sh.in + g * sh.in_g;
                     c.out_row = sh.stride * sh.in;
                     c.rows = rows;
                     kernels::correlate(c);
                   });
  }
  return dx.transpose(1, 2);
}

torch::Tensor weight_gradient(const Shape& sh, const torch::Tensor& xp, const torch::Tensor& dy) {
  auto dw = torch::zeros({sh.groups, sh.taps, sh.in_g, sh.out_g}, dy.options());
  const float* xd = xp.data_ptr<float>();
  const float* yd = dy.data_ptr<float>();
  float* wd = dw.data_ptr<float>();
  const int64_t xp_time = xp.size(1);
  // One group per work item: a group's gradient has one writer.
  at::parallel_for(0, sh.groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      for (int64_t bi = 0; bi < sh.batch; ++bi)
        for (int64_t row0 = 0; row0 < sh.time_out; row0 += kGradientRows) {
          kernels::WeightGradient k;
          k.in = xd + (bi * xp_time + row0 * sh.stride) * sh.in + g * sh.in_g;
          k.in_row = sh.in;
          k.in_step = sh.stride;
          k.taps = sh.taps;
          k.cin = sh.in_g;
          k.dy = yd + (bi * sh.time_out + row0) * sh.out + g * sh.out_g;
          k.dy_row = sh.out;
          k.cout = sh.out_g;
          k.rows = std::min(kGradientRows, sh.time_out - row0);
          k.dw = wd + g * sh.taps * sh.in_g * sh.out_g;
          kernels::accumulate_weight_gradient(k);
        }
  });
  // [groups, taps, in_g, out_g] -> [out, in_g, taps]
  return dw.permute({0, 3, 2, 1}).reshape({sh.out, sh.in_g, sh.taps});
}

class GroupedConv1dFunction : public torch::autograd::Function<GroupedConv1dFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, int64_t stride, int64_t padding, int64_t groups) {
    const Shape sh(x, weight, stride, padding, groups);
    const auto xp = padded_time_major(x, padding, padding);  // [batch, time + 2 padding, in]
    auto y = forward_rows(sh, xp, weight, bias);
    ctx->save_for_backward({weight});
    ctx->saved_data["xp"] = xp;
    ctx->saved_data["time"] = sh.time;
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["groups"] = groups;
    return y.transpose(1, 2);  // [batch, out, time_out], time-major strides
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto weight = ctx->get_saved_variables()[0];
    const auto xp = ctx->saved_data["xp"].toTensor();
    const int64_t padding = ctx->saved_data["padding"].toInt();
    // Shape from a [batch, in, time] view of the unpadded input.
    const auto x_shape = xp.narrow(1, padding, ctx->saved_data["time"].toInt()).transpose(1, 2);
    const Shape sh(x_shape, weight, ctx->saved_data["stride"].toInt(), padding,
                   ctx->saved_data["groups"].toInt());
    const auto dy = grads[0].transpose(1, 2).contiguous();  // [batch, time_out, out]
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = input_gradient(sh, dy.transpose(1, 2), weight);
    if (ctx->needs_input_grad(1)) dw = weight_gradient(sh, xp, dy);
    if (ctx->needs_input_grad(2)) db = dy.sum(std::vector<int64_t>{0, 1});
    return {dx, dw, db, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("ACOUSTOK_GROUPED_CONV");
    return !(e && std::string(e) == "aten") && kernels::supported();
  }();
  return on;
}

}  // namespace

bool grouped_conv1d_applies(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride,
                            int64_t groups) {
  if (!enabled() || groups < 2 || x.dim() != 3 || weight.dim() != 3) return false;
  if (!x.device().is_cpu() || !weight.device().is_cpu() || x.scalar_type() != torch::kFloat ||
      weight.scalar_type() != torch::kFloat || x.layout() != torch::kStrided)
    return false;
  const int64_t taps = weight.size(2);
  return taps >= 9 && stride >= 1 && stride <= taps && weight.size(0) % groups == 0 &&
         x.size(1) == weight.size(1) * groups && (weight.size(0) / groups) % 16 == 0 &&
         weight.size(1) % 4 == 0;
}

torch::Tensor grouped_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                             int64_t stride, int64_t padding, int64_t groups) {
  TORCH_CHECK(grouped_conv1d_applies(x, weight, stride, groups), "grouped_conv1d: shapes it does not take");
  TORCH_CHECK(x.size(2) + 2 * padding >= weight.size(2), "grouped_conv1d: input shorter than the kernel");
  return GroupedConv1dFunction::apply(x, weight, bias, stride, padding, groups);
}

}  // namespace acoustok::vocoder
