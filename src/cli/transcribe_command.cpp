// `earshot transcribe FILE... --model PATH`: decode each file, transcribe it with one
// loaded model, and write the result to stdout or to DIR/<stem>.<ext>.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "models/catalog.h"

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
  std::string initial_prompt;
  std::string suppress_tokens = "-1";
  std::string prefix;
  std::string prepend_punctuations = "\"'\u201c\u00bf([{-";
  std::string append_punctuations = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001";
  std::string clip_timestamps = "0";
  std::string output_format = "txt";
  std::optional<std::filesystem::path> output_dir;
  double temperature = 0.0;
  double temperature_increment = 0.2;
  // Defaults of OpenAI's `whisper` command (beam search and best-of-5 sampling), not of its
  // transcribe() function.
  std::uint64_t seed = 0;
  int beam_size = 5;
  int best_of = 5;
  int threads = 0;
  std::string precision = "fp32";
  std::optional<float> patience;
  std::optional<float> length_penalty;
  std::optional<int> max_line_width;
  std::optional<int> max_line_count;
  std::optional<int> max_words_per_line;
  std::optional<float> hallucination_silence_threshold;
  bool no_timestamps = false;
  bool no_condition = false;
  bool no_fallback = false;
  bool carry_initial_prompt = false;
  bool word_timestamps = false;
  bool highlight_words = false;
  bool vad = false;
  std::string vad_model;
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

// A comma-separated list of numbers ("-1", "0,12.5,30"); empty text is an empty list;
// nullopt when an item is not a number.
template <typename T>
std::optional<std::vector<T>> parse_numbers(const std::string& text) {
  std::vector<T> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    char* stop = nullptr;
    const double value = std::strtod(item.c_str(), &stop);
    if (item.empty() || stop != item.c_str() + item.size()) {
      return std::nullopt;
    }
    out.push_back(static_cast<T>(value));
    begin = end + 1;
  }
  return out;
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
  options.beam_size = flags.beam_size;
  options.best_of = flags.best_of;
  options.patience = flags.patience.value_or(1.0f);
  options.length_penalty = flags.length_penalty;
  options.suppress_tokens = *parse_numbers<int>(flags.suppress_tokens);
  options.prefix = flags.prefix;
  options.carry_initial_prompt = flags.carry_initial_prompt;
  options.word_timestamps = flags.word_timestamps;
  options.prepend_punctuations = flags.prepend_punctuations;
  options.append_punctuations = flags.append_punctuations;
  options.clip_timestamps = *parse_numbers<double>(flags.clip_timestamps);
  options.hallucination_silence_threshold = flags.hallucination_silence_threshold;
  options.seed = flags.seed;
  options.vad = flags.vad;
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
                           const TranscribeFlags& flags, OutputFormat format,
                           const std::shared_ptr<const VadModel>& vad_model) {
  const auto start = Clock::now();
  const std::vector<float> samples = decode_audio_file(input);
  const double decode_ms = elapsed_ms(start);

  TranscribeOptions options = engine_options(flags);
  options.vad_model = vad_model;
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
  RenderOptions render;
  render.task = options.task;
  render.subtitles = {.max_line_width = flags.max_line_width,
                      .max_line_count = flags.max_line_count,
                      .max_words_per_line = flags.max_words_per_line,
                      .highlight_words = flags.highlight_words};
  return with_final_newline(render_transcription(result, format, render));
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
  if (!parse_numbers<int>(flags.suppress_tokens)) {
    std::cerr << "earshot: --suppress-tokens takes comma-separated token ids\n";
    return kExitUsage;
  }
  if (!parse_numbers<double>(flags.clip_timestamps)) {
    std::cerr << "earshot: --clip-timestamps takes comma-separated seconds (start,end,...)\n";
    return kExitUsage;
  }
  // As OpenAI's command: these shape word-level cues, which need word timestamps.
  if (!flags.word_timestamps &&
      (flags.highlight_words || flags.max_line_width || flags.max_line_count ||
       flags.max_words_per_line || flags.hallucination_silence_threshold)) {
    std::cerr << "earshot: --highlight-words, --max-line-width, --max-line-count, "
                 "--max-words-per-line and --hallucination-silence-threshold need "
                 "--word-timestamps\n";
    return kExitUsage;
  }
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
    model = load_model(flags.model, {.precision = *parse_precision(flags.precision)});
  } catch (const Error& error) {
    std::cerr << "earshot: cannot load model " << flags.model << ": " << error.what() << "\n";
    return kExitFailure;
  }
  if (flags.verbose) {
    std::fprintf(stderr, "model %s loaded in %.1f ms\n", flags.model.string().c_str(),
                 elapsed_ms(load_start));
  }
  // --vad drops silence with Silero: --vad-model, else the downloaded silero-vad, else (said
  // on stderr) the energy detector.
  std::shared_ptr<const VadModel> vad_model;
  if (flags.vad) {
    const std::string name =
        flags.vad_model.empty() ? std::string(models::kDefaultVadModel) : flags.vad_model;
    const auto path = models::resolve_vad_model_path(name, models::cache_dir());
    if (!path && !flags.vad_model.empty()) {
      std::cerr << "earshot: --vad-model " << name << ": no such file or downloaded model\n";
      return kExitFailure;
    }
    if (path) {
      try {
        vad_model = load_vad_model(*path);
      } catch (const Error& error) {
        std::cerr << "earshot: cannot load VAD model: " << error.what() << "\n";
        return kExitFailure;
      }
    } else {
      std::cerr << "earshot: no Silero VAD model (`earshot models download silero-vad`): "
                   "--vad uses the energy detector\n";
    }
  }

  // A file that fails is reported and skipped, so one bad input in a batch does not cost
  // the others their transcription; the exit code still says something failed.
  int exit_code = 0;
  for (std::size_t i = 0; i < flags.inputs.size(); ++i) {
    const auto& input = flags.inputs[i];
    std::string text;
    try {
      text = transcribe_one(*model, input, flags, *format, vad_model);
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
  cmd->add_option("--initial-prompt,--prompt", flags->initial_prompt,
                  "Text given to the first window as if it had been said before");
  cmd->add_flag("--carry-initial-prompt", flags->carry_initial_prompt,
                "Keep the initial prompt before every window's previous text");
  cmd->add_option("--prefix", flags->prefix, "Text forced at the start of every window");
  cmd->add_option("--beam-size", flags->beam_size,
                  "Beams of beam search at temperature 0 (0 = greedy)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--best-of", flags->best_of, "Samples per window at temperature > 0")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--patience", flags->patience,
                  "Beam search patience (arXiv 2204.05424); default 1.0")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--length-penalty", flags->length_penalty,
                  "Length penalty alpha (arXiv 1609.08144); default: divide by the length")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--suppress-tokens", flags->suppress_tokens,
                  "Comma-separated token ids never sampled; -1 = most symbols")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Seed of the sampling draws (reproducible runs)")
      ->capture_default_str();
  cmd->add_flag("--word-timestamps", flags->word_timestamps,
                "Word-level timestamps (verbose_json words, word-level subtitle cues)");
  cmd->add_option("--prepend-punctuations", flags->prepend_punctuations,
                  "With --word-timestamps: punctuation merged into the next word")
      ->capture_default_str();
  cmd->add_option("--append-punctuations", flags->append_punctuations,
                  "With --word-timestamps: punctuation merged into the previous word")
      ->capture_default_str();
  cmd->add_flag("--highlight-words", flags->highlight_words,
                "With --word-timestamps: underline each word as it is spoken in srt/vtt");
  cmd->add_option("--max-line-width", flags->max_line_width,
                  "With --word-timestamps: characters per subtitle line")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-line-count", flags->max_line_count,
                  "With --word-timestamps: lines per subtitle cue")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-words-per-line", flags->max_words_per_line,
                  "With --word-timestamps and no --max-line-width: words per subtitle line")
      ->check(CLI::PositiveNumber);
  cmd->add_option(
         "--clip-timestamps", flags->clip_timestamps,
         "Comma-separated start,end,... seconds to transcribe (a last start runs to the end)")
      ->capture_default_str();
  cmd->add_option("--hallucination-silence-threshold", flags->hallucination_silence_threshold,
                  "With --word-timestamps: skip silences longer than this many seconds around "
                  "probable hallucinations")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--vad", flags->vad,
                "Drop long silences before decoding (Silero VAD when its model is present, "
                "else an energy detector)");
  cmd->add_option("--vad-model", flags->vad_model,
                  "Silero VAD ONNX file or downloaded name for --vad (default: silero-vad)");
  cmd->add_option("-t,--threads", flags->threads, "Compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--precision", flags->precision,
                  "Matrix products: fp32 (OpenAI's reference tokens) or int8 (quantized at load, "
                  "faster, close but not always the same tokens)")
      ->check(CLI::IsMember({"fp32", "int8"}))
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
