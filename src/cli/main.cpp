#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/openmp_wait_policy.h"
#include "earshot/version.h"

int main(int argc, char** argv) {
  earshot::cli::reexec_with_passive_openmp_wait(argv);
  CLI::App app{"earshot: a Whisper speech-recognition server and command-line transcriber",
               "earshot"};
  app.set_version_flag("--version", std::string("earshot ") + earshot::kVersion);
  app.require_subcommand(1);

  int exit_code = 0;
  earshot::cli::add_serve_command(app, exit_code);
  earshot::cli::add_transcribe_command(app, exit_code);
  earshot::cli::add_models_command(app, exit_code);
  earshot::cli::add_vad_command(app, exit_code);
  earshot::cli::add_bench_command(app, exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
