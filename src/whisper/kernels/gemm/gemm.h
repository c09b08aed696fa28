#pragma once

// The matrix-product backend: oneDNN (f32, JIT for the host's widest vector unit). oneDNN is
// built on OpenMP in Debian, so its thread count is the calling thread's OpenMP
// nthreads-var, which every call here sets to the count the backend was made with.

#include <cstdint>
#include <memory>
#include <span>

#include "whisper/kernels/gemv.h"

namespace earshot::whisper {

// Fused after a product, in this order: + bias, GELU, + previous contents of y.
struct Epilogue {
  const float* bias = nullptr;  // [n], added to every row; nullptr = none
  bool gelu = false;            // exact erf GELU (not the tanh approximation)
  bool accumulate = false;      // y += result (a residual connection) instead of y = result
};

// A strided view of `batch` matrices of rows x cols floats:
// element (b, r, c) is at data[b * batch_stride + r * row_stride + c * col_stride].
template <typename T>
struct StridedMatrices {
  T* data = nullptr;
  std::int64_t batch = 1;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t batch_stride = 0;
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 1;
};
using MatrixView = StridedMatrices<const float>;
using OutputMatrixView = StridedMatrices<float>;

// One per WhisperState: owns oneDNN's engine, stream and the primitives it has built
// (keyed by shape, so a decoder step reuses what the previous step built). Not thread-safe.
class Gemm {
 public:
  explicit Gemm(int threads);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  int threads() const { return threads_; }

  // The threads that split a decoder step's products (gemv_linear) and attention.
  StepWorkers& step_workers() { return workers_; }

  // y[m x n] (row stride ldy) = x[m x k] (row stride ldx) @ w^T, w row-major [n x k] (PyTorch's
  // Linear weight layout), then the epilogue.
  void linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx, const float* w,
              std::int64_t n, float* y, std::int64_t ldy, const Epilogue& epilogue = {});

  // The same with the weights as the model stores them (f32, f16 or int8). Up to kMaxGemvRows
  // rows (a decoder step) stream the weights once through gemv_linear; more rows convert f16
  // weights exactly to f32 into a scratch buffer owned by this object, then run the product,
  // or, for int8 weights, quantize x per row and run an integer product.
  void linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
              const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
              const Epilogue& epilogue = {});

  // c = scale * a @ b for each batch entry, with arbitrary strides (used by attention to
  // address heads in place). a: [batch x m x k], b: [batch x k x n], c: [batch x m x n].
  void batched(const MatrixView& a, const MatrixView& b, const OutputMatrixView& c, float scale);

  // Softmax along each row of `rows` contiguous rows of `cols` floats, in place.
  void softmax_rows(float* data, std::int64_t rows, std::int64_t cols);

 private:
  // linear() with int8 weights and more rows than a decoder step: x quantized per row, the
  // integer product through oneDNN (VNNI where the CPU has it), then scales and epilogue.
  void linear_int8(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                   const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
                   const Epilogue& epilogue);
  // Exact (erf) GELU of `count` contiguous values, in place.
  void gelu_in_place(float* data, std::int64_t count);

  struct Impl;
  int threads_;
  std::unique_ptr<Impl> impl_;
  StepWorkers workers_;
};

namespace reference {

// Plain scalar versions with double accumulation, for tests of the fast path.
void linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx, const float* w,
            std::int64_t n, float* y, std::int64_t ldy, const Epilogue& epilogue = {});
void batched(const MatrixView& a, const MatrixView& b, const OutputMatrixView& c, float scale);

}  // namespace reference

}  // namespace earshot::whisper
