#pragma once

// The machine's own arithmetic peak, measured: how fast this CPU can issue fused multiply-adds
// (fp32, bf16 dot products, int8 VNNI) when nothing else limits it. The engine's figures are
// read as fractions of these.

#include <string>

namespace earshot::bench {

// What the CPU reports through cpuid and what the OS lets us use (checked at run time; the
// program itself is built for any x86-64).
struct CpuInfo {
  std::string model;  // brand string, e.g. "AMD EPYC 9R45 ..."
  bool avx2_fma = false;
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
};

CpuInfo detect_cpu();

// Widest vector unit the fp32 peak kernel used: "avx512", "avx2" or "scalar".
const char* fp32_peak_isa(const CpuInfo& cpu);

// Peak throughput with `threads` threads each running an independent FMA chain set for about
// `seconds`, in GFLOP/s (one FMA = 2 FLOP). bf16: vdpbf16ps (each bf16 pair = 2 FLOP); int8:
// vpdpbusd (each u8 x s8 pair = 2 OP). 0 where the CPU lacks the instruction.
double fp32_peak_gflops(const CpuInfo& cpu, int threads, double seconds);
double bf16_peak_gflops(const CpuInfo& cpu, int threads, double seconds);
double int8_peak_gops(const CpuInfo& cpu, int threads, double seconds);

}  // namespace earshot::bench
