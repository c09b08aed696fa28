// `earshot transcribe FILE... --model PATH`: decode each file, transcribe it with one
// loaded model, and write the result to stdout or to DIR/<stem>.<ext>.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/whisper.h"
#include "format/output_format.h"
#include "format/render.h"
#include "format/timestamp.h"

namespace earshot::cli {
namespace {

// Exit codes: 0 every file transcribed; 1 a model, audio or output failure; 2 options
// that contradict each other (CLI11 reports malformed ones itself).
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct TranscribeFlags {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path model;
  std::string language = "auto";
  std::string task = "transcribe";
  bool no_timestamps = false;
  bool no_condition = false;
  double temperature = 0.0;
  double temperature_increment = 0.2;
  bool no_fallback = false;
  std::string initial_prompt;
  int threads = 0;
  std::string output_format = "txt";
  std::optional<std::filesystem::path> output_dir;
  bool verbose = false;
};

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// OpenAI's ladder: from the starting temperature up to 1.0 in steps of the increment;
// without fallback (or a zero increment) the starting temperature alone.
std::vector<float> temperature_ladder(const TranscribeFlags& flags) {
  std::vector<float> ladder;
  if (flags.no_fallback || flags.temperature_increment <= 0) {
    ladder.push_back(static_cast<float>(flags.temperature));
    return ladder;
  }
  for (int step = 0;; ++step) {
    const double t = flags.temperature + step * flags.temperature_increment;
    if (t > 1.0 + 1e-6) {
      break;
    }
    ladder.push_back(static_cast<float>(t));
  }
  if (ladder.empty()) {
    ladder.push_back(static_cast<float>(flags.temperature));
  }
  return ladder;
}

TranscribeOptions engine_options(const TranscribeFlags& flags) {
  TranscribeOptions options;
  options.language = flags.language == "auto" ? "" : flags.language;
  options.task = flags.task == "translate" ? Task::kTranslate : Task::kTranscribe;
  options.timestamps = !flags.no_timestamps;
  options.condition_on_previous_text = !flags.no_condition;
  options.initial_prompt = flags.initial_prompt;
  options.temperatures = temperature_ladder(flags);
  options.threads = flags.threads;
  return options;
}

// A one-line progress bar on stderr, drawn only when stderr is a terminal so that logs
// and pipes never receive carriage returns.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label)
      : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { clear(); }

  void update(double fraction) {
    fraction_ = std::clamp(fraction, 0.0, 1.0);
    draw();
  }

  void draw() {
    if (!enabled_) {
      return;
    }
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(std::lround(fraction_ * kWidth));
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(),
                 static_cast<int>(std::lround(fraction_ * 100)));
    std::fflush(stderr);
    drawn_ = true;
  }

  // Erases the bar so other stderr output starts on a clean line.
  void clear() {
    if (!drawn_) {
      return;
    }
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  double fraction_ = 0;
};

// Every result ends with a newline, so that outputs printed one after another (and a
// JSON file viewed in a terminal) stay separate.
std::string with_final_newline(std::string text) {
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  return text;
}

// DIR/<stem>.<ext> for each input; nullopt (after saying why) when two inputs would write
// the same file.
std::optional<std::vector<std::filesystem::path>> output_paths(const TranscribeFlags& flags,
                                                               OutputFormat format) {
  std::vector<std::filesystem::path> paths;
  std::map<std::filesystem::path, std::filesystem::path> claimed;
  for (const auto& input : flags.inputs) {
    auto path = *flags.output_dir / input.stem();
    path += ".";
    path += std::string(file_extension(format));
    if (const auto [it, inserted] = claimed.emplace(path, input); !inserted) {
      std::cerr << "earshot: " << it->second << " and " << input << " would both be written to "
                << path << "; transcribe them in separate runs\n";
      return std::nullopt;
    }
    paths.push_back(path);
  }
  return paths;
}

void print_timings(const std::filesystem::path& input, double audio_seconds, double decode_ms,
                   double total_ms, const Timings& timings) {
  const double tokens_per_s =
      timings.decode_ms > 0 ? timings.tokens_decoded * 1000.0 / timings.decode_ms : 0;
  std::fprintf(stderr,
               "%s: %.2f s of audio; audio decode %.1f ms, mel %.1f ms, encode %.1f ms, "
               "decode %.1f ms, %d tokens (%.1f tokens/s); total %.1f ms (%.1fx real time)\n",
               input.string().c_str(), audio_seconds, decode_ms, timings.mel_ms, timings.encode_ms,
               timings.decode_ms, timings.tokens_decoded, tokens_per_s, total_ms,
               total_ms > 0 ? audio_seconds * 1000.0 / total_ms : 0.0);
}

// Transcribes one input and returns the rendered result; throws earshot::Error.
std::string transcribe_one(const Model& model, const std::filesystem::path& input,
                           const TranscribeFlags& flags, OutputFormat format) {
  const auto start = Clock::now();
  const std::vector<float> samples = decode_audio_file(input);
  const double decode_ms = elapsed_ms(start);

  TranscribeOptions options = engine_options(flags);
  ProgressBar progress(input.filename().string());
  options.on_progress = [&progress](double fraction) { progress.update(fraction); };
  if (flags.verbose) {
    options.on_segment = [&progress](const Segment& segment) {
      progress.clear();
      std::fprintf(stderr, "[%s --> %s] %s\n", format_timestamp(segment.start, '.').c_str(),
                   format_timestamp(segment.end, '.').c_str(), segment.text.c_str());
      progress.draw();
    };
  }
  progress.update(0);
  const Transcription result = transcribe(model, samples, options);
  progress.clear();

  if (flags.verbose) {
    print_timings(input, static_cast<double>(samples.size()) / kSampleRate, decode_ms,
                  elapsed_ms(start), result.timings);
  }
  return with_final_newline(render_transcription(result, format, {.task = options.task}));
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    std::cerr << "earshot: cannot write " << path << "\n";
    return false;
  }
  return true;
}

int run_transcribe(const TranscribeFlags& flags) {
  const std::optional<OutputFormat> format = parse_output_format(flags.output_format);
  if (!format) {
    std::cerr << "earshot: unknown output format '" << flags.output_format << "' (expected one of "
              << kOutputFormatNames << ")\n";
    return kExitUsage;
  }
  std::vector<std::filesystem::path> outputs;
  if (flags.output_dir) {
    auto paths = output_paths(flags, *format);
    if (!paths) {
      return kExitUsage;
    }
    outputs = std::move(*paths);
    std::error_code ec;
    std::filesystem::create_directories(*flags.output_dir, ec);
    if (ec) {
      std::cerr << "earshot: cannot create output directory " << *flags.output_dir << ": "
                << ec.message() << "\n";
      return kExitFailure;
    }
  }

  std::shared_ptr<const Model> model;
  const auto load_start = Clock::now();
  try {
    model = load_model(flags.model);
  } catch (const Error& error) {
    std::cerr << "earshot: cannot load model " << flags.model << ": " << error.what() << "\n";
    return kExitFailure;
  }
  if (flags.verbose) {
    std::fprintf(stderr, "model %s loaded in %.1f ms\n", flags.model.string().c_str(),
                 elapsed_ms(load_start));
  }

  // A file that fails is reported and skipped, so one bad input in a batch does not cost
  // the others their transcription; the exit code still says something failed.
  int exit_code = 0;
  for (std::size_t i = 0; i < flags.inputs.size(); ++i) {
    const auto& input = flags.inputs[i];
    std::string text;
    try {
      text = transcribe_one(*model, input, flags, *format);
    } catch (const Error& error) {
      std::cerr << "earshot: " << error.what() << "\n";
      exit_code = kExitFailure;
      continue;
    }
    if (flags.output_dir) {
      if (!write_file(outputs[i], text)) {
        exit_code = kExitFailure;
      }
    } else {
      std::cout << text << std::flush;
    }
  }
  return exit_code;
}

}  // namespace

void add_transcribe_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("transcribe", "Transcribe audio files with a Whisper model");
  auto flags = std::make_shared<TranscribeFlags>();
  cmd->add_option("files", flags->inputs, "Audio or video files (any format FFmpeg reads)")
      ->required();
  cmd->add_option("-m,--model", flags->model, "ggml Whisper model file")->required();
  cmd->add_option("-l,--language", flags->language,
                  "Spoken language as an ISO code (en, de, ...), or auto to detect it")
      ->capture_default_str();
  cmd->add_option("--task", flags->task, "transcribe, or translate into English")
      ->check(CLI::IsMember({"transcribe", "translate"}))
      ->capture_default_str();
  cmd->add_flag("--no-timestamps", flags->no_timestamps,
                "Decode without timestamp tokens (one segment per 30 s window)");
  cmd->add_flag("--no-condition", flags->no_condition,
                "Do not prompt each window with the text of the previous ones");
  cmd->add_option("--temperature", flags->temperature,
                  "Sampling temperature of the first attempt (0 = greedy)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--temperature-increment", flags->temperature_increment,
                  "Step of the fallback ladder up to 1.0 when a window fails its checks")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("--no-fallback", flags->no_fallback,
                "Use only --temperature, never retry a window at higher temperatures");
  cmd->add_option("--initial-prompt", flags->initial_prompt,
                  "Text given to the first window as if it had been said before");
  cmd->add_option("-t,--threads", flags->threads, "Compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("-f,--output-format", flags->output_format,
                  "txt, json, verbose_json, srt, vtt or tsv")
      ->check(CLI::IsMember({"txt", "text", "json", "verbose_json", "srt", "vtt", "tsv"}))
      ->capture_default_str();
  cmd->add_option("-o,--output-dir", flags->output_dir,
                  "Write DIR/<name>.<ext> per input instead of printing to stdout");
  cmd->add_flag("-v,--verbose", flags->verbose,
                "Print segments as they are decoded and timings, to stderr");
  cmd->callback([flags, &exit_code] { exit_code = run_transcribe(*flags); });
}

}  // namespace earshot::cli
