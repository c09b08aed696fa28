#pragma once

#include <CLI/CLI.hpp>

namespace earshot::cli {

// Each subcommand registers itself on the root app and returns the process exit code
// through `exit_code` once its callback has run.
void add_serve_command(CLI::App& app, int& exit_code);
void add_transcribe_command(CLI::App& app, int& exit_code);
void add_models_command(CLI::App& app, int& exit_code);
void add_vad_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace earshot::cli
