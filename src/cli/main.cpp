#include <unistd.h>

#include <cstdlib>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "earshot/version.h"

namespace {

// libgomp (the OpenMP runtime under Debian's oneDNN and the engine's loops) spins idle
// threads by default; on a machine whose cores are shared, that spinning starved the
// working threads and made a window's encoding ~30x slower (measured: 3.1 s against 84 ms for
// the micro model under a load of 6). libgomp reads its settings when it is loaded, before
// main(), so the process re-executes itself once with a passive wait policy, unless the user
// chose a policy.
void ensure_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  ::execv("/proc/self/exe", argv);
  // If re-executing fails the process simply continues with libgomp's defaults.
}

}  // namespace

int main(int argc, char** argv) {
  ensure_passive_openmp_waits(argv);
  CLI::App app{"earshot: a Whisper speech-recognition server and command-line transcriber",
               "earshot"};
  app.set_version_flag("--version", std::string("earshot ") + earshot::kVersion);
  app.require_subcommand(1);

  int exit_code = 0;
  earshot::cli::add_serve_command(app, exit_code);
  earshot::cli::add_transcribe_command(app, exit_code);
  earshot::cli::add_models_command(app, exit_code);
  earshot::cli::add_bench_command(app, exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
