// Micro-benchmarks of the engine's products on Whisper's shapes (tiny 384, base 512, small 768
// wide; 1500 encoder frames; 51865-token vocabulary) and of the machine's FMA peak. Each
// reports FLOP/s as a counter so that runs read as fractions of the peak.

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/machine_peak.h"
#include "whisper/kernels/attention/attention.h"
#include "whisper/kernels/attention/blocked_attention.h"
#include "whisper/kernels/attention/fused_attention.h"
#include "whisper/kernels/attention/int8_attention.h"
#include "whisper/kernels/gemm/gemm.h"
#include "whisper/kernels/kernels.h"
#include "whisper/model/model.h"

namespace {

using earshot::whisper::Gemm;

constexpr std::int64_t kFrames = 1500;
constexpr std::int64_t kVocab = 51865;

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& x : v) {
    x = dist(rng);
  }
  return v;
}

void set_flops(benchmark::State& state, double flop_per_iteration) {
  state.counters["FLOP/s"] = benchmark::Counter(
      flop_per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// y[m x n] = x[m x k] @ w^T: args m, k, n, threads.
void BM_Linear(benchmark::State& state) {
  const std::int64_t m = state.range(0);
  const std::int64_t k = state.range(1);
  const std::int64_t n = state.range(2);
  Gemm gemm(static_cast<int>(state.range(3)));
  const auto x = random_values(static_cast<std::size_t>(m * k), 1);
  const auto w = random_values(static_cast<std::size_t>(n * k), 2);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    gemm.linear(x.data(), m, k, k, w.data(), n, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * static_cast<double>(m * k * n));
}
BENCHMARK(BM_Linear)
    ->ArgNames({"m", "k", "n", "threads"})
    ->Args({kFrames, 384, 1536, 2})
    ->Args({kFrames, 512, 512, 2})
    ->Args({kFrames, 512, 2048, 2})
    ->Args({kFrames, 2048, 512, 2})
    ->Args({kFrames, 768, 3072, 2})
    ->Args({kFrames, 3072, 768, 2})
    ->Args({kFrames, 768, 3072, 1})
    ->Args({1, 384, kVocab, 1})  // a decoder step's logits (tiny)
    ->Args({1, 768, kVocab, 1})  // a decoder step's logits (small)
    ->Args({5, 768, kVocab, 1})  // five beams' logits at once (small)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same product with int8 weights (Precision::kInt8): x quantized per row, the integer
// product, scales and epilogue (here a bias and GELU, as the MLP's first layer): args m, k, n,
// threads. FLOP/s counts the multiply-adds as the f32 product does, for comparison.
void BM_LinearInt8(benchmark::State& state) {
  const std::int64_t m = state.range(0);
  const std::int64_t k = state.range(1);
  const std::int64_t n = state.range(2);
  Gemm gemm(static_cast<int>(state.range(3)));
  const auto x = random_values(static_cast<std::size_t>(m * k), 1);
  earshot::whisper::Tensor w;
  w.shape = {n, k};
  w.data = random_values(static_cast<std::size_t>(n * k), 2);
  earshot::whisper::quantize_rows_int8(w);
  const auto bias = random_values(static_cast<std::size_t>(n), 3);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    gemm.linear(x.data(), m, k, k, w.matrix(), n, y.data(), n,
                {.bias = bias.data(), .gelu = state.range(4) != 0});
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * static_cast<double>(m * k * n));
}
BENCHMARK(BM_LinearInt8)
    ->ArgNames({"m", "k", "n", "threads", "gelu"})
    ->Args({kFrames, 384, 1536, 2, 0})
    ->Args({kFrames, 384, 1536, 2, 1})
    ->Args({kFrames, 768, 3072, 2, 0})
    ->Args({kFrames, 3072, 768, 2, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A decoder step's logits through the streaming kernel, weights f32 or f16 (binary16 bytes):
// args rows, k, n, f16, threads. Bound by reading n x k weights once.
void BM_Gemv(benchmark::State& state) {
  const std::int64_t m = state.range(0);
  const std::int64_t k = state.range(1);
  const std::int64_t n = state.range(2);
  const bool f16 = state.range(3) != 0;
  Gemm gemm(static_cast<int>(state.range(4)));
  const auto x = random_values(static_cast<std::size_t>(m * k), 1);
  const auto w = random_values(static_cast<std::size_t>(n * k), 2);
  std::vector<std::uint16_t> half(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    half[i] = 0x3c00;  // 1.0: the values do not matter to the time
  }
  earshot::whisper::WeightMatrix weights;
  if (f16) {
    weights.f16 = reinterpret_cast<const std::uint8_t*>(half.data());
  } else {
    weights.f32 = w.data();
  }
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    gemm.linear(x.data(), m, k, k, weights, n, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * static_cast<double>(m * k * n));
  state.SetBytesProcessed(state.iterations() * n * k * (f16 ? 2 : 4));
}
BENCHMARK(BM_Gemv)
    ->ArgNames({"m", "k", "n", "f16", "threads"})
    ->Args({1, 384, kVocab, 0, 1})
    ->Args({1, 384, kVocab, 1, 1})
    ->Args({1, 384, kVocab, 1, 2})
    ->Args({1, 512, kVocab, 1, 2})
    ->Args({2, 512, kVocab, 1, 2})
    ->Args({1, 768, kVocab, 1, 2})
    ->Args({5, 768, kVocab, 1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Encoder self-attention over 1500 frames: args d, heads, threads, fused (fused_attention, or
// the backend's batched products and softmax).
void BM_EncoderAttention(benchmark::State& state) {
  const std::int64_t d = state.range(0);
  const std::int64_t heads = state.range(1);
  Gemm gemm(static_cast<int>(state.range(2)));
  const auto q = random_values(static_cast<std::size_t>(kFrames * d), 3);
  const auto k = random_values(static_cast<std::size_t>(kFrames * d), 4);
  const auto v = random_values(static_cast<std::size_t>(kFrames * d), 5);
  std::vector<float> out(static_cast<std::size_t>(kFrames * d));
  std::vector<float> scores(static_cast<std::size_t>(
      std::max(heads * earshot::whisper::kAttentionQueryBlock * kFrames,
               earshot::whisper::fused_attention_scratch(kFrames, d, gemm.threads()))));
  for (auto _ : state) {
    earshot::whisper::blocked_attention(gemm, q.data(), kFrames, k.data(), v.data(), kFrames, heads,
                                        d, out.data(), scores, state.range(3) != 0);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, 4.0 * static_cast<double>(kFrames * kFrames * d));
}
BENCHMARK(BM_EncoderAttention)
    ->ArgNames({"d", "heads", "threads", "fused"})
    ->Args({384, 6, 2, 0})
    ->Args({384, 6, 2, 1})
    ->Args({512, 8, 2, 0})
    ->Args({512, 8, 2, 1})
    ->Args({768, 12, 2, 0})
    ->Args({768, 12, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The int8 path's encoder self-attention (int8_attention.h): args d, heads, threads. FLOP/s
// counts the f32 path's multiply-adds (effective rate).
void BM_EncoderAttentionInt8(benchmark::State& state) {
  const std::int64_t d = state.range(0);
  const std::int64_t heads = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const auto q = random_values(static_cast<std::size_t>(kFrames * d), 3);
  const auto k = random_values(static_cast<std::size_t>(kFrames * d), 4);
  const auto v = random_values(static_cast<std::size_t>(kFrames * d), 5);
  std::vector<float> out(static_cast<std::size_t>(kFrames * d));
  std::vector<float> scratch(
      static_cast<std::size_t>(earshot::whisper::int8_attention_scratch(kFrames, d, threads)));
  for (auto _ : state) {
    if (!earshot::whisper::int8_attention(q.data(), kFrames, k.data(), v.data(), kFrames, heads, d,
                                          out.data(), scratch, threads)) {
      state.SkipWithError("no AVX-512 VNNI on this CPU");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, 4.0 * static_cast<double>(kFrames * kFrames * d));
}
BENCHMARK(BM_EncoderAttentionInt8)
    ->ArgNames({"d", "heads", "threads"})
    ->Args({384, 6, 2})
    ->Args({512, 8, 2})
    ->Args({768, 12, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// LayerNorm of the encoder's activations: args d, threads.
void BM_LayerNorm(benchmark::State& state) {
  const std::int64_t d = state.range(0);
  const auto x = random_values(static_cast<std::size_t>(kFrames * d), 6);
  const auto gamma = random_values(static_cast<std::size_t>(d), 7);
  const auto beta = random_values(static_cast<std::size_t>(d), 8);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    earshot::whisper::layer_norm(x.data(), kFrames, d, gamma.data(), beta.data(), y.data(),
                                 static_cast<int>(state.range(1)));
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * kFrames * d * 8);
}
BENCHMARK(BM_LayerNorm)->ArgNames({"d", "threads"})->Args({512, 1})->Args({512, 2})->UseRealTime();

// The machine's fp32 FMA peak on one core and on two, for reading the figures above.
void BM_Fp32Peak(benchmark::State& state) {
  const auto cpu = earshot::bench::detect_cpu();
  double gflops = 0;
  for (auto _ : state) {
    gflops = earshot::bench::fp32_peak_gflops(cpu, static_cast<int>(state.range(0)), 0.1);
  }
  state.counters["GFLOP/s"] = gflops;
  state.SetLabel(cpu.model);
}
BENCHMARK(BM_Fp32Peak)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
