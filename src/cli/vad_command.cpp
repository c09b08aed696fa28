// `earshot vad FILE...`: what the voice-activity model hears, per 32 ms chunk and as speech
// segments, for a user to check the VAD (and for the tests to compare it with onnxruntime).

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/vad.h"
#include "models/catalog.h"

namespace earshot::cli {
namespace {

struct VadFlags {
  std::vector<std::filesystem::path> inputs;
  std::string model = std::string(models::kDefaultVadModel);
  std::string model_dir;
  std::string output_format = "json";
  VadOptions options;
};

nlohmann::json file_json(const std::filesystem::path& input, const VadResult& r) {
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& s : r.segments) {
    segments.push_back({{"start", s.start},
                        {"end", s.end},
                        {"start_sample", s.start_sample},
                        {"end_sample", s.end_sample}});
  }
  return {{"file", input.string()},
          {"chunk_samples", kVadChunkSamples},
          {"sample_rate", kSampleRate},
          {"probabilities", r.probabilities},
          {"segments", segments}};
}

int run(const VadFlags& f) {
  const auto path = models::resolve_vad_model_path(f.model, models::cache_dir(f.model_dir));
  if (!path) {
    std::cerr << "earshot: no VAD model '" << f.model << "' (a file, or a name downloaded with "
              << "`earshot models download silero-vad`)\n";
    return 1;
  }
  std::shared_ptr<const VadModel> model;
  try {
    model = load_vad_model(*path);
  } catch (const Error& e) {
    std::cerr << "earshot: " << e.what() << "\n";
    return 1;
  }
  nlohmann::json all = nlohmann::json::array();
  int failures = 0;
  for (const auto& input : f.inputs) {
    try {
      const std::vector<float> samples = decode_audio_file(input);
      const VadResult r = detect_speech(*model, samples, f.options);
      if (f.output_format == "json") {
        all.push_back(file_json(input, r));
      } else {
        if (f.inputs.size() > 1) std::printf("# %s\n", input.string().c_str());
        for (const auto& s : r.segments) std::printf("%.3f %.3f\n", s.start, s.end);
      }
    } catch (const Error& e) {
      std::cerr << "earshot: " << input.string() << ": " << e.what() << "\n";
      ++failures;
    }
  }
  if (f.output_format == "json" && !all.empty()) {
    std::cout << (all.size() == 1 ? all[0] : all).dump() << "\n";
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void add_vad_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<VadFlags>();
  auto* cmd = app.add_subcommand(
      "vad", "Show what the voice-activity model (Silero VAD) hears in audio files");
  cmd->add_option("files", flags->inputs, "Audio files (any format FFmpeg decodes)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--model", flags->model,
                  "Silero VAD ONNX file, or a downloaded model's name (default: silero-vad)");
  cmd->add_option("--model-dir", flags->model_dir,
                  "Where downloaded models are (default: $EARSHOT_MODEL_DIR or "
                  "~/.cache/earshot/models)");
  cmd->add_option("--threshold", flags->options.threshold,
                  "Speech starts at a probability at or above this")
      ->check(CLI::Range(0.01, 0.99))
      ->capture_default_str();
  cmd->add_option("--neg-threshold", flags->options.neg_threshold,
                  "Speech ends below this (default: threshold - 0.15)");
  cmd->add_option("--min-speech-ms", flags->options.min_speech_ms, "Shorter segments are dropped")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--min-silence-ms", flags->options.min_silence_ms,
                  "A pause this long ends a segment")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--speech-pad-ms", flags->options.speech_pad_ms,
                  "Kept on both sides of each segment")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-speech-s", flags->options.max_speech_s,
                  "Longer segments are split at a pause (default: no limit)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--output-format", flags->output_format,
                  "json: per-chunk probabilities and segments; txt: one 'start end' line (s) "
                  "per segment")
      ->check(CLI::IsMember({"json", "txt"}))
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = run(*flags); });
}

}  // namespace earshot::cli
