// SPDX-License-Identifier: MIT
// The one place that knows oneDNN's two API generations (meson.build refuses
// anything older than 2.6):
//   - 2.x: operation descriptors (`matmul::desc`, `convolution_forward::desc`)
//     made first, primitive descriptors from them; memory descriptors are
//     open C structs (`memory::desc::data`); eltwise post-ops take a scale;
//   - 3.x: primitive descriptors built directly from an engine; memory
//     descriptors are opaque and read through getters; no eltwise scale.
// Everything else in the project calls these and never tests the version.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>

namespace acoustok::onednn::compat {

using dnnl::memory;

// A 1-D window's stride, dilation (oneDNN counts it from 0: 0 is dense) and
// left and right padding, in steps.
struct Window {
  memory::dims stride, dilation, pad_l, pad_r;
};

#if DNNL_VERSION_MAJOR >= 3

inline int ndims(const memory::desc& md) { return md.get_ndims(); }
inline memory::dim dim(const memory::desc& md, int i) { return md.get_dims()[static_cast<size_t>(i)]; }

// What tells two memory layouts apart, as text (a primitive cache's key).
inline void append_layout(std::string& key, const memory::desc& md) {
  auto add = [&](int64_t v) { key += std::to_string(v) + ','; };
  const int n = md.get_ndims();
  add(n);
  add(static_cast<int64_t>(md.get_data_type()));
  for (const memory::dim d : md.get_dims()) add(d);
  add(static_cast<int64_t>(md.get_format_kind()));
  add(md.get_submemory_offset());
  if (md.get_format_kind() == memory::format_kind::blocked) {
    for (const memory::dim s : md.get_strides()) add(s);
    const memory::dims blks = md.get_inner_blks(), idxs = md.get_inner_idxs();
    for (int i = 0; i < md.get_inner_nblks(); ++i) {
      add(blks[static_cast<size_t>(i)]);
      add(idxs[static_cast<size_t>(i)]);
    }
  }
  key += ';';
}

inline void append_eltwise(dnnl::post_ops& post, dnnl::algorithm algorithm, float alpha, float beta) {
  post.append_eltwise(algorithm, alpha, beta);
}

// `bias` may be a zero memory::desc(): no bias.
inline dnnl::matmul::primitive_desc matmul_pd(const dnnl::engine& engine, const memory::desc& src,
                                              const memory::desc& weights, const memory::desc& bias,
                                              const memory::desc& dst,
                                              const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
  if (bias.get_ndims() == 0) return {engine, src, weights, dst, attr};
  return {engine, src, weights, bias, dst, attr};
}

// Forward inference of a convolution or deconvolution (Op); `bias` may be a
// zero memory::desc(): no bias.
template <class Op>
typename Op::primitive_desc window_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                      const memory::desc& src, const memory::desc& weights,
                                      const memory::desc& bias, const memory::desc& dst, const Window& w,
                                      const dnnl::primitive_attr& attr) {
  const auto kind = dnnl::prop_kind::forward_inference;
  if (ndims(bias) == 0)
    return {engine, kind, algorithm, src, weights, dst, w.stride, w.dilation, w.pad_l, w.pad_r, attr};
  return {engine, kind, algorithm, src, weights, bias, dst, w.stride, w.dilation, w.pad_l, w.pad_r, attr};
}

#else  // oneDNN 2.x

inline int ndims(const memory::desc& md) { return md.data.ndims; }
inline memory::dim dim(const memory::desc& md, int i) { return md.data.dims[i]; }

inline void append_layout(std::string& key, const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  auto add = [&](int64_t v) { key += std::to_string(v) + ','; };
  add(d.ndims);
  add(d.data_type);
  for (int i = 0; i < d.ndims; ++i) add(d.dims[i]);
  // The same numbering as 3.x's format_kind (blocked = 2), so keys read alike.
  add(d.format_kind == dnnl_blocked ? 2 : 100 + d.format_kind);
  add(d.offset0);
  if (d.format_kind == dnnl_blocked) {
    const dnnl_blocking_desc_t& b = d.format_desc.blocking;
    for (int i = 0; i < d.ndims; ++i) add(b.strides[i]);
    for (int i = 0; i < b.inner_nblks; ++i) {
      add(b.inner_blks[i]);
      add(b.inner_idxs[i]);
    }
  }
  key += ';';
}

inline void append_eltwise(dnnl::post_ops& post, dnnl::algorithm algorithm, float alpha, float beta) {
  post.append_eltwise(1.0f, algorithm, alpha, beta);
}

inline dnnl::matmul::primitive_desc matmul_pd(const dnnl::engine& engine, const memory::desc& src,
                                              const memory::desc& weights, const memory::desc& bias,
                                              const memory::desc& dst,
                                              const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
  const auto desc = bias.data.ndims == 0 ? dnnl::matmul::desc(src, weights, dst)
                                         : dnnl::matmul::desc(src, weights, bias, dst);
  return {desc, attr, engine};
}

template <class Op>
typename Op::primitive_desc window_pd(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                      const memory::desc& src, const memory::desc& weights,
                                      const memory::desc& bias, const memory::desc& dst, const Window& w,
                                      const dnnl::primitive_attr& attr) {
  const auto kind = dnnl::prop_kind::forward_inference;
  const auto desc = ndims(bias) == 0 ? typename Op::desc(kind, algorithm, src, weights, dst, w.stride,
                                                         w.dilation, w.pad_l, w.pad_r)
                                     : typename Op::desc(kind, algorithm, src, weights, bias, dst, w.stride,
                                                         w.dilation, w.pad_l, w.pad_r);
  return {desc, attr, engine};
}

#endif

inline dnnl::convolution_forward::primitive_desc conv_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& weights,
    const memory::desc& bias, const memory::desc& dst, const Window& w,
    const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
  return window_pd<dnnl::convolution_forward>(engine, dnnl::algorithm::convolution_direct, src, weights, bias,
                                              dst, w, attr);
}

inline dnnl::deconvolution_forward::primitive_desc deconv_pd(
    const dnnl::engine& engine, const memory::desc& src, const memory::desc& weights,
    const memory::desc& bias, const memory::desc& dst, const Window& w,
    const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
  return window_pd<dnnl::deconvolution_forward>(engine, dnnl::algorithm::deconvolution_direct, src, weights,
                                                bias, dst, w, attr);
}

}  // namespace acoustok::onednn::compat
