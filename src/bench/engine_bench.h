#pragma once

// `earshot bench`: times the engine on a model file (or a random-weight model of an official
// size written for the purpose) and the machine's own peak, and prints the figures as a table
// or as one JSON object per line. Figures only: nothing here passes or fails on a time.

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace earshot::bench {

struct BenchOptions {
  std::optional<std::filesystem::path> model_file;  // a ggml file; nullopt = random `dims`
  std::string dims = "tiny";                        // tiny, base or small (random weights, seed 1)
  std::string ftype = "f16";       // storage of the random model's matrices: f16 or f32
  std::string precision = "fp32";  // products: fp32 or int8 (earshot::Precision)
  std::vector<int> threads;        // thread counts to run; empty = all cores
  int tokens_per_window = 64;      // decoded tokens per window (fallback off), fixed
  int repeats = 3;                 // timed repetitions of each figure (median reported)
  int concurrency = 2;             // jobs run one after another, then at once; < 2 = skip
  bool quick = false;              // smoke-test workload: 1 repeat, 8 tokens, 10 s only
  bool json = false;               // one JSON object per line instead of a table
};

// Runs the benchmark and writes its figures to `out` (progress and errors to `err`). Returns a
// process exit code: 0, or 1 when the model cannot be written or loaded.
int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace earshot::bench
