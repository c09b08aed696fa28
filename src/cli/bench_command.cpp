// `earshot bench [--model FILE | --dims tiny|base|small] [--threads N] [--json]`: the engine's
// figures on this machine (src/bench/engine_bench.h does the measuring).

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/engine_bench.h"
#include "cli/commands.h"

namespace earshot::cli {

void add_bench_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<bench::BenchOptions>();
  auto model = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "bench",
      "Time the engine (encoder, decoder, log-mel, load, RSS, real-time factor) and "
      "the machine's peak; figures only");
  auto* model_opt = cmd->add_option("--model", *model, "a ggml model file to time");
  cmd->add_option("--dims", options->dims,
                  "random-weight model of this official size: tiny, base or small")
      ->check(CLI::IsMember({"tiny", "base", "small"}))
      ->excludes(model_opt)
      ->capture_default_str();
  cmd->add_option("--ftype", options->ftype, "storage of the random model's matrices: f16 or f32")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  cmd->add_option("--precision", options->precision,
                  "products in fp32 (reference tokens) or int8 (quantized, faster)")
      ->check(CLI::IsMember({"fp32", "int8"}))
      ->capture_default_str();
  cmd->add_option("--threads", options->threads,
                  "thread counts to run, e.g. --threads 1,2 (default: all cores)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--tokens", options->tokens_per_window,
                  "decoded tokens per window (greedy, fallback off)")
      ->check(CLI::Range(1, 220))
      ->capture_default_str();
  cmd->add_option("--repeats", options->repeats, "timed repetitions per figure (median)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--concurrency", options->concurrency,
                  "jobs of 60 s audio timed one after another, then at once with the threads "
                  "split between them (0 = skip)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_flag("--quick", options->quick, "tiny workload (smoke test): 1 repeat, 8 tokens, 10 s");
  cmd->add_flag("--json", options->json, "one JSON object per model and thread count");
  cmd->callback([options, model, &exit_code] {
    if (!model->empty()) {
      options->model_file = *model;
    }
    exit_code = bench::run_bench(*options, std::cout, std::cerr);
  });
}

}  // namespace earshot::cli
