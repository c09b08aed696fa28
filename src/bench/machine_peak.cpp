#include "bench/machine_peak.h"

// GCC 12's AVX-512 headers start some intrinsics (reduce_add) from _mm512_undefined_*, which
// -W(maybe-)uninitialized reports wherever they are inlined: a false positive, off for this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

// Each kernel keeps 12 independent accumulators: enough to cover an FMA latency of 4 cycles on
// two pipes (8 in flight), so that the loop is bound by issue width, not by a dependency chain.
// The kernels carry target attributes so that the rest of the program stays plain x86-64;
// they are called only after detect_cpu() saw the instructions.

namespace earshot::bench {
namespace {

constexpr int kAccumulators = 12;
constexpr std::int64_t kInnerIterations = 1 << 14;

std::atomic<float> g_sink{0.0f};

__attribute__((target("avx512f"))) std::int64_t fp32_avx512(std::int64_t rounds) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) {
    acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  }
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-7f);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (std::int64_t it = 0; it < kInnerIterations; ++it) {
      for (auto& v : acc) {
        v = _mm512_fmadd_ps(v, a, b);
      }
    }
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) {
    sum = _mm512_add_ps(sum, acc[i]);
  }
  g_sink.store(_mm512_reduce_add_ps(sum), std::memory_order_relaxed);
  return rounds * kInnerIterations * kAccumulators * 16 * 2;
}

__attribute__((target("avx2,fma"))) std::int64_t fp32_avx2(std::int64_t rounds) {
  __m256 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) {
    acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  }
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (std::int64_t it = 0; it < kInnerIterations; ++it) {
      for (auto& v : acc) {
        v = _mm256_fmadd_ps(v, a, b);
      }
    }
  }
  alignas(32) float lanes[8];
  __m256 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) {
    sum = _mm256_add_ps(sum, acc[i]);
  }
  _mm256_store_ps(lanes, sum);
  g_sink.store(lanes[0], std::memory_order_relaxed);
  return rounds * kInnerIterations * kAccumulators * 8 * 2;
}

std::int64_t fp32_scalar(std::int64_t rounds) {
  std::array<float, kAccumulators> acc{};
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (std::int64_t it = 0; it < kInnerIterations; ++it) {
      for (auto& v : acc) {
        v = v * 0.999999f + 1e-7f;
      }
    }
  }
  float sum = 0.0f;
  for (float v : acc) {
    sum += v;
  }
  g_sink.store(sum, std::memory_order_relaxed);
  return rounds * kInnerIterations * kAccumulators * 2;
}

__attribute__((target("avx512f,avx512bf16"))) std::int64_t bf16_avx512(std::int64_t rounds) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) {
    acc[i] = _mm512_setzero_ps();
  }
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (std::int64_t it = 0; it < kInnerIterations; ++it) {
      for (auto& v : acc) {
        v = _mm512_dpbf16_ps(v, a, b);
      }
    }
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) {
    sum = _mm512_add_ps(sum, acc[i]);
  }
  g_sink.store(_mm512_reduce_add_ps(sum), std::memory_order_relaxed);
  // 32 bf16 pairs per instruction, a multiply and an add each.
  return rounds * kInnerIterations * kAccumulators * 32 * 2;
}

__attribute__((target("avx512f,avx512vnni"))) std::int64_t int8_avx512(std::int64_t rounds) {
  __m512i acc[kAccumulators];
  for (auto& v : acc) {
    v = _mm512_setzero_si512();
  }
  const __m512i a = _mm512_set1_epi8(3);
  const __m512i b = _mm512_set1_epi8(-2);
  for (std::int64_t r = 0; r < rounds; ++r) {
    for (std::int64_t it = 0; it < kInnerIterations; ++it) {
      for (auto& v : acc) {
        v = _mm512_dpbusd_epi32(v, a, b);
      }
    }
  }
  __m512i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) {
    sum = _mm512_add_epi32(sum, acc[i]);
  }
  // The sum only keeps the work observable; the accumulators wrap around over many rounds, so
  // reduce in float (a signed int reduction would overflow, which is undefined).
  g_sink.store(_mm512_reduce_add_ps(_mm512_cvtepi32_ps(sum)), std::memory_order_relaxed);
  // 64 u8 x s8 pairs per instruction.
  return rounds * kInnerIterations * kAccumulators * 64 * 2;
}

using Kernel = std::int64_t (*)(std::int64_t);

// Runs `kernel` on `threads` threads at once for about `seconds` (calibrated on one short run)
// and returns the total operations per second over the wall time of the slowest thread, in G.
double measure(Kernel kernel, int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const std::int64_t probe_ops = kernel(1);
  const double probe_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto rounds =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds / std::max(probe_s, 1e-6)));
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::int64_t> ops(static_cast<std::size_t>(threads), 0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) {
        std::this_thread::yield();
      }
      ops[static_cast<std::size_t>(t)] = kernel(rounds);
    });
  }
  while (ready.load() < threads) {
    std::this_thread::yield();
  }
  const auto start = Clock::now();
  go.store(true);
  for (auto& th : pool) {
    th.join();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  double total = 0.0;
  for (auto v : ops) {
    total += static_cast<double>(v);
  }
  (void)probe_ops;
  return total / wall * 1e-9;
}

}  // namespace

CpuInfo detect_cpu() {
  CpuInfo cpu;
  unsigned a = 0;
  unsigned b = 0;
  unsigned c = 0;
  unsigned d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) != 0 && a >= 0x80000004u) {
    std::array<char, 49> brand{};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
      const std::array<unsigned, 4> regs = {a, b, c, d};
      std::memcpy(brand.data() + leaf * 16, regs.data(), 16);
    }
    cpu.model = brand.data();
    const auto first = cpu.model.find_first_not_of(' ');
    const auto last = cpu.model.find_last_not_of(' ');
    cpu.model = first == std::string::npos ? "" : cpu.model.substr(first, last - first + 1);
  }
  __builtin_cpu_init();
  cpu.avx2_fma = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  cpu.avx512f = __builtin_cpu_supports("avx512f") != 0;
  cpu.avx512_bf16 = cpu.avx512f && __builtin_cpu_supports("avx512bf16") != 0;
  cpu.avx512_vnni = cpu.avx512f && __builtin_cpu_supports("avx512vnni") != 0;
  return cpu;
}

const char* fp32_peak_isa(const CpuInfo& cpu) {
  if (cpu.avx512f) {
    return "avx512";
  }
  return cpu.avx2_fma ? "avx2" : "scalar";
}

double fp32_peak_gflops(const CpuInfo& cpu, int threads, double seconds) {
  if (cpu.avx512f) {
    return measure(fp32_avx512, threads, seconds);
  }
  return measure(cpu.avx2_fma ? fp32_avx2 : fp32_scalar, threads, seconds);
}

double bf16_peak_gflops(const CpuInfo& cpu, int threads, double seconds) {
  return cpu.avx512_bf16 ? measure(bf16_avx512, threads, seconds) : 0.0;
}

double int8_peak_gops(const CpuInfo& cpu, int threads, double seconds) {
  return cpu.avx512_vnni ? measure(int8_avx512, threads, seconds) : 0.0;
}

}  // namespace earshot::bench
