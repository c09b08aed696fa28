// earshot-bench: `earshot bench` alone, linked against the engine only (no HTTP server, FFmpeg
// or logging libraries), for timing on machines that have just the engine's dependencies.

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/openmp_wait_policy.h"

int main(int argc, char** argv) {
  earshot::cli::reexec_with_passive_openmp_wait(argv);
  CLI::App app{"earshot bench: engine figures on this machine", "earshot-bench"};
  app.require_subcommand(1);
  int exit_code = 0;
  earshot::cli::add_bench_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
