#include "cli/commands.h"

namespace earshot::cli {

// Placeholder registration until the engine lands: the transcribe subcommand is owned by
// the audio/format work (see src/cli/transcribe_command.cpp history).
void add_transcribe_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("transcribe", "Transcribe audio files with a Whisper model");
  cmd->callback([&exit_code] { exit_code = 2; });
}

}  // namespace earshot::cli
