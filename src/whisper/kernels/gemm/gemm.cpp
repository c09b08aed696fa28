#include "whisper/kernels/gemm/gemm.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "earshot/error.h"
#include "whisper/kernels/kernels.h"

namespace earshot::whisper {
namespace {

using dt = dnnl::memory::data_type;
using Dims = dnnl::memory::dims;

// A built primitive with its memory objects and argument map, kept so that a repeated call
// only swaps data pointers (set_data_handle) instead of rebuilding anything.
struct Prepared {
  dnnl::primitive primitive;
  std::unordered_map<int, dnnl::memory> args;
  std::vector<std::uint8_t> scratchpad;
};

dnnl::memory::desc strided(const Dims& dims, const Dims& strides) {
  return dnnl::memory::desc(dims, dt::f32, strides);
}

// The operation and every shape, stride and option that shapes its primitive, zero-filled: a
// fixed-size key, so that looking up a decoder step's primitive allocates nothing.
using PrimitiveKey = std::array<std::int64_t, 20>;

void* mutable_ptr(const float* p) {
  return const_cast<float*>(p);
}

// Below this many multiply-adds a product runs on the calling thread alone: waking a second
// thread costs more than it saves, and when another process holds the other core (as on a
// shared 2-core machine), every parallel region waits for it. Decoder steps are made of
// such small products.
constexpr std::int64_t kMinParallelMacs = std::int64_t{1} << 22;

int threads_for(std::int64_t macs, int threads) {
  return macs < kMinParallelMacs ? 1 : threads;
}

}  // namespace

struct Gemm::Impl {
  // f16 weights converted to f32 for one product at a time (at most the largest matrix).
  std::vector<float> converted;
  // Int8 products: the activations quantized per row, their scales, the raw product.
  std::vector<std::int8_t> quantized;
  std::vector<float> row_scales;
  std::vector<float> int8_product;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Keyed by operation and every shape/stride/option that shapes the primitive.
  std::map<PrimitiveKey, Prepared> cache;

  // Caps the cache so that a long run of distinct shapes cannot grow it without bound.
  static constexpr std::size_t kMaxCached = 256;

  Prepared& prepare(const PrimitiveKey& key,
                    const std::vector<std::pair<int, dnnl::memory::desc>>& arg_descs,
                    dnnl::primitive primitive) {
    if (cache.size() >= kMaxCached) {
      cache.clear();
    }
    Prepared p;
    p.primitive = std::move(primitive);
    for (const auto& [arg, md] : arg_descs) {
      p.args.emplace(arg, dnnl::memory(md, engine, nullptr));
    }
    return cache.emplace(key, std::move(p)).first->second;
  }

  void attach_scratchpad(Prepared& p, const dnnl::memory::desc& md) {
    if (md.get_size() == 0) {
      return;
    }
    p.scratchpad.resize(md.get_size());
    p.args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(md, engine, p.scratchpad.data()));
  }

  void run(Prepared& p) {
    p.primitive.execute(stream, p.args);
    stream.wait();
  }
};

Gemm::Gemm(int threads)
    : threads_(std::max(1, threads)), impl_(std::make_unique<Impl>()), workers_(threads_) {}

Gemm::~Gemm() = default;

void Gemm::linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx, const float* w,
                  std::int64_t n, float* y, std::int64_t ldy, const Epilogue& epilogue) {
  const int threads = threads_for(m * n * k, threads_);
  omp_set_num_threads(threads);
  const PrimitiveKey key = {
      0, threads, m, k, ldx, n, ldy, epilogue.bias != nullptr, epilogue.gelu, epilogue.accumulate};
  auto it = impl_->cache.find(key);
  Prepared* p = nullptr;
  if (it != impl_->cache.end()) {
    p = &it->second;
  } else {
    const auto src_md = strided({m, k}, {ldx, 1});
    // w is [n x k] row-major: as the [k x n] weights operand, element (i, j) sits at j * k + i.
    const auto wei_md = strided({k, n}, {1, k});
    const auto bias_md = strided({1, n}, {n, 1});
    const auto dst_md = strided({m, n}, {ldy, 1});
    dnnl::post_ops ops;
    if (epilogue.gelu) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    }
    if (epilogue.accumulate) {
      ops.append_sum(1.0f);
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto desc = epilogue.bias != nullptr ? dnnl::matmul::desc(src_md, wei_md, bias_md, dst_md)
                                               : dnnl::matmul::desc(src_md, wei_md, dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, impl_->engine);
    std::vector<std::pair<int, dnnl::memory::desc>> args = {
        {DNNL_ARG_SRC, src_md}, {DNNL_ARG_WEIGHTS, wei_md}, {DNNL_ARG_DST, dst_md}};
    if (epilogue.bias != nullptr) {
      args.emplace_back(DNNL_ARG_BIAS, bias_md);
    }
    p = &impl_->prepare(key, args, dnnl::matmul(pd));
    impl_->attach_scratchpad(*p, pd.scratchpad_desc());
  }
  p->args.at(DNNL_ARG_SRC).set_data_handle(mutable_ptr(x));
  p->args.at(DNNL_ARG_WEIGHTS).set_data_handle(mutable_ptr(w));
  p->args.at(DNNL_ARG_DST).set_data_handle(y);
  if (epilogue.bias != nullptr) {
    p->args.at(DNNL_ARG_BIAS).set_data_handle(mutable_ptr(epilogue.bias));
  }
  impl_->run(*p);
}

void Gemm::linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                  const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
                  const Epilogue& epilogue) {
  if (m <= kMaxGemvRows) {
    gemv_linear(x, m, k, ldx, w, n, y, ldy, epilogue.bias, epilogue.gelu, epilogue.accumulate,
                workers_);
    return;
  }
  if (w.s8 != nullptr) {
    linear_int8(x, m, k, ldx, w, n, y, ldy, epilogue);
    return;
  }
  if (w.f16 == nullptr) {
    linear(x, m, k, ldx, w.f32, n, y, ldy, epilogue);
    return;
  }
  const std::int64_t count = n * k;
  if (static_cast<std::int64_t>(impl_->converted.size()) < count) {
    impl_->converted.resize(static_cast<std::size_t>(count));
  }
  float* converted = impl_->converted.data();
  // Whole rows per thread, in chunks of 64 rows.
  constexpr std::int64_t kRowsPerChunk = 64;
  const std::int64_t chunks = (n + kRowsPerChunk - 1) / kRowsPerChunk;
#pragma omp parallel for num_threads(threads_for(m* n* k, threads_)) schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t r0 = c * kRowsPerChunk;
    const std::int64_t rows = std::min(kRowsPerChunk, n - r0);
    f16_to_f32(w.f16 + 2 * r0 * k, rows * k, converted + r0 * k);
  }
  linear(x, m, k, ldx, converted, n, y, ldy, epilogue);
}

void Gemm::linear_int8(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                       const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
                       const Epilogue& epilogue) {
  const int threads = threads_for(m * n * k, threads_);
  omp_set_num_threads(threads);
  // Each row of x to int8 with its own scale (max |value| / 127): dynamic, symmetric.
  impl_->quantized.resize(static_cast<std::size_t>(m * k));
  impl_->row_scales.resize(static_cast<std::size_t>(m));
  std::int8_t* q = impl_->quantized.data();
  float* row_scales = impl_->row_scales.data();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < m; ++i) {
    const float* row = x + i * ldx;
    float max_abs = 0.0f;
#pragma omp simd reduction(max : max_abs)
    for (std::int64_t c = 0; c < k; ++c) {
      max_abs = std::max(max_abs, std::abs(row[c]));
    }
    const float scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
    const float inverse = 1.0f / scale;
    row_scales[i] = scale;
    // Rounded half away from zero: a conversion the compiler vectorises (nearbyint is a
    // library call per value on baseline x86-64).
#pragma omp simd
    for (std::int64_t c = 0; c < k; ++c) {
      const float v = row[c] * inverse;
      q[i * k + c] = static_cast<std::int8_t>(static_cast<int>(v + std::copysign(0.5f, v)));
    }
  }

  // The integer product, times each weight row's scale (a per-column output scale, fixed
  // per matrix: the primitive is built once per weight matrix and kept).
  const bool direct = ldy == n && !epilogue.accumulate;
  if (!direct) {
    impl_->int8_product.resize(static_cast<std::size_t>(m * n));
  }
  float* product = direct ? y : impl_->int8_product.data();
  const PrimitiveKey key = {3, threads, m, k, n, reinterpret_cast<std::intptr_t>(w.s8_scale)};
  auto it = impl_->cache.find(key);
  Prepared* p = nullptr;
  if (it != impl_->cache.end()) {
    p = &it->second;
  } else {
    const dnnl::memory::desc src_md({m, k}, dt::s8, Dims{k, 1});
    const dnnl::memory::desc wei_md({k, n}, dt::s8, Dims{1, k});
    const dnnl::memory::desc dst_md({m, n}, dt::f32, Dims{n, 1});
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, std::vector<float>(w.s8_scale, w.s8_scale + n));
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, wei_md, dst_md), attr,
                                          impl_->engine);
    p = &impl_->prepare(
        key, {{DNNL_ARG_SRC, src_md}, {DNNL_ARG_WEIGHTS, wei_md}, {DNNL_ARG_DST, dst_md}},
        dnnl::matmul(pd));
    impl_->attach_scratchpad(*p, pd.scratchpad_desc());
  }
  p->args.at(DNNL_ARG_SRC).set_data_handle(q);
  p->args.at(DNNL_ARG_WEIGHTS).set_data_handle(const_cast<std::int8_t*>(w.s8));
  p->args.at(DNNL_ARG_DST).set_data_handle(product);
  impl_->run(*p);

  // Then the row scales and the bias, GELU (oneDNN's, vectorised), and the residual.
  const float* bias = epilogue.bias;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = product + i * n;
    const float scale = row_scales[i];
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) {
      row[j] = row[j] * scale + (bias != nullptr ? bias[j] : 0.0f);
    }
  }
  if (epilogue.gelu) {
    gelu_in_place(product, m * n);
  }
  if (!direct) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < m; ++i) {
      const float* from = product + i * n;
      float* to = y + i * ldy;
      if (epilogue.accumulate) {
#pragma omp simd
        for (std::int64_t j = 0; j < n; ++j) {
          to[j] += from[j];
        }
      } else {
        std::copy_n(from, n, to);
      }
    }
  }
}

void Gemm::gelu_in_place(float* data, std::int64_t count) {
  const int threads = threads_for(count * 32, threads_);
  omp_set_num_threads(threads);
  const PrimitiveKey key = {4, threads, count};
  auto it = impl_->cache.find(key);
  Prepared* p = nullptr;
  if (it != impl_->cache.end()) {
    p = &it->second;
  } else {
    const auto md = strided({count}, {1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::eltwise_forward::primitive_desc pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::eltwise_gelu_erf, md, 0.0f, 0.0f),
        attr, impl_->engine);
    p = &impl_->prepare(key, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}}, dnnl::eltwise_forward(pd));
    impl_->attach_scratchpad(*p, pd.scratchpad_desc());
  }
  p->args.at(DNNL_ARG_SRC).set_data_handle(data);
  p->args.at(DNNL_ARG_DST).set_data_handle(data);
  impl_->run(*p);
}

void Gemm::batched(const MatrixView& a, const MatrixView& b, const OutputMatrixView& c,
                   float scale) {
  const int threads = threads_for(a.batch * a.rows * a.cols * b.cols, threads_);
  omp_set_num_threads(threads);
  const PrimitiveKey key = {1,
                            threads,
                            a.batch,
                            a.rows,
                            a.cols,
                            a.batch_stride,
                            a.row_stride,
                            a.col_stride,
                            b.rows,
                            b.cols,
                            b.batch_stride,
                            b.row_stride,
                            b.col_stride,
                            c.rows,
                            c.cols,
                            c.batch_stride,
                            c.row_stride,
                            c.col_stride,
                            static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(scale))};
  auto it = impl_->cache.find(key);
  Prepared* p = nullptr;
  if (it != impl_->cache.end()) {
    p = &it->second;
  } else {
    const auto a_md =
        strided({a.batch, a.rows, a.cols}, {a.batch_stride, a.row_stride, a.col_stride});
    const auto b_md =
        strided({b.batch, b.rows, b.cols}, {b.batch_stride, b.row_stride, b.col_stride});
    const auto c_md =
        strided({c.batch, c.rows, c.cols}, {c.batch_stride, c.row_stride, c.col_stride});
    dnnl::primitive_attr attr;
    if (scale != 1.0f) {
      attr.set_output_scales(0, {scale});
    }
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr,
                                          impl_->engine);
    p = &impl_->prepare(key, {{DNNL_ARG_SRC, a_md}, {DNNL_ARG_WEIGHTS, b_md}, {DNNL_ARG_DST, c_md}},
                        dnnl::matmul(pd));
    impl_->attach_scratchpad(*p, pd.scratchpad_desc());
  }
  p->args.at(DNNL_ARG_SRC).set_data_handle(mutable_ptr(a.data));
  p->args.at(DNNL_ARG_WEIGHTS).set_data_handle(mutable_ptr(b.data));
  p->args.at(DNNL_ARG_DST).set_data_handle(c.data);
  impl_->run(*p);
}

void Gemm::softmax_rows(float* data, std::int64_t rows, std::int64_t cols) {
  // A softmax element costs about as much as a few dozen multiply-adds.
  const int threads = threads_for(rows * cols * 32, threads_);
  omp_set_num_threads(threads);
  const PrimitiveKey key = {2, threads, rows, cols};
  auto it = impl_->cache.find(key);
  Prepared* p = nullptr;
  if (it != impl_->cache.end()) {
    p = &it->second;
  } else {
    const auto md = strided({rows, cols}, {cols, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::softmax_forward::primitive_desc pd(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1), attr,
        impl_->engine);
    p = &impl_->prepare(key, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}}, dnnl::softmax_forward(pd));
    impl_->attach_scratchpad(*p, pd.scratchpad_desc());
  }
  p->args.at(DNNL_ARG_SRC).set_data_handle(data);
  p->args.at(DNNL_ARG_DST).set_data_handle(data);
  impl_->run(*p);
}

namespace reference {

void linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx, const float* w,
            std::int64_t n, float* y, std::int64_t ldy, const Epilogue& epilogue) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (std::int64_t l = 0; l < k; ++l) {
        acc += static_cast<double>(x[i * ldx + l]) * static_cast<double>(w[j * k + l]);
      }
      if (epilogue.bias != nullptr) {
        acc += epilogue.bias[j];
      }
      float v = static_cast<float>(acc);
      if (epilogue.gelu) {
        v = reference::gelu(v);
      }
      y[i * ldy + j] = epilogue.accumulate ? y[i * ldy + j] + v : v;
    }
  }
}

void batched(const MatrixView& a, const MatrixView& b, const OutputMatrixView& c, float scale) {
  float* out = c.data;
  for (std::int64_t bi = 0; bi < a.batch; ++bi) {
    for (std::int64_t i = 0; i < a.rows; ++i) {
      for (std::int64_t j = 0; j < b.cols; ++j) {
        double acc = 0.0;
        for (std::int64_t l = 0; l < a.cols; ++l) {
          acc += static_cast<double>(
                     a.data[bi * a.batch_stride + i * a.row_stride + l * a.col_stride]) *
                 static_cast<double>(
                     b.data[bi * b.batch_stride + l * b.row_stride + j * b.col_stride]);
        }
        out[bi * c.batch_stride + i * c.row_stride + j * c.col_stride] =
            static_cast<float>(acc * scale);
      }
    }
  }
}

}  // namespace reference

}  // namespace earshot::whisper
