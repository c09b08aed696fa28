#pragma once

// earshot's public engine API: load a Whisper model once, transcribe any number of
// sample buffers with it, concurrently, each call with its own state.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "earshot/error.h"
#include "earshot/vad.h"

namespace earshot {

// Hyper-parameters read from a model file (never inferred from a model's name).
struct ModelDims {
  int n_vocab = 0;        // 51864 (.en), 51865 (multilingual), 51866 (v3)
  int n_audio_ctx = 0;    // encoder positions, 1500 for 30 s
  int n_audio_state = 0;  // encoder width
  int n_audio_head = 0;
  int n_audio_layer = 0;
  int n_text_ctx = 0;  // decoder positions, 448
  int n_text_state = 0;
  int n_text_head = 0;
  int n_text_layer = 0;
  int n_mels = 0;  // 80, or 128 for v3
  int ftype = 0;   // the file's ggml file type (ftype % 1000): 0 f32, 1 f16, 2 q4_0, 3 q4_1,
                   // 7 q8_0, 8 q5_0, 9 q5_1
};

// A loaded model: immutable, shared read-only by every transcription (see whisper/model.h).
class Model;

// How the matrix products compute. kFp32 gives OpenAI's reference tokens (the conformance
// tests hold it to them). kInt8 is opt-in: every Linear weight and the logits projection are
// quantized to int8 per output channel at load, activations to int8 per row for each product
// of the encoder (integer dot products: VNNI where the CPU has it, chosen at run time by
// oneDNN), and decoder steps stream the int8 weights (half the bytes of f16). Faster, and
// close to but not always the same tokens (agreement measured in docs/performance.md).
enum class Precision { kFp32, kInt8 };

struct ModelLoadOptions {
  bool use_mmap = true;                    // memory-map the file instead of reading it
  Precision precision = Precision::kFp32;  // see Precision
};

// "fp32" / "int8" <-> Precision; parse_precision returns nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view name);
const char* precision_name(Precision precision);

// Loads a ggml Whisper model file. Throws Error(kIo) or Error(kModelFormat).
std::shared_ptr<const Model> load_model(const std::filesystem::path& path,
                                        const ModelLoadOptions& options = {});

const ModelDims& model_dims(const Model& model);
Precision model_precision(const Model& model);
bool model_is_multilingual(const Model& model);

enum class Task { kTranscribe, kTranslate };

// One decoded segment, with OpenAI's field meanings.
// One word of a segment (word_timestamps), with OpenAI's field meanings.
struct Word {
  double start = 0;        // seconds
  double end = 0;          // seconds
  std::string word;        // with its leading space and merged punctuation
  double probability = 0;  // mean probability of its tokens
};

struct Segment {
  int id = 0;
  int seek = 0;             // first mel frame of the window that produced it (100 per second)
  double start = 0;         // seconds
  double end = 0;           // seconds
  std::string text;         // decoded text, timestamps removed
  std::vector<int> tokens;  // including the segment's timestamp tokens
  double temperature = 0;
  double avg_logprob = 0;
  double compression_ratio = 0;
  double no_speech_prob = 0;
  std::vector<Word> words;  // only with TranscribeOptions::word_timestamps
};

struct TranscribeOptions {
  std::string language;  // ISO code such as "en"; empty or "auto" = detect on the first window
  Task task = Task::kTranscribe;           // kTranslate = translate to English
  bool timestamps = true;                  // false = <|notimestamps|> decoding
  bool condition_on_previous_text = true;  // prompt each window with earlier windows' tokens
  std::string initial_prompt;              // text given as the first window's prompt; empty = none
  int sample_len = 0;                      // max tokens sampled per window; 0 = n_text_ctx / 2
  std::vector<float> temperatures = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};  // fallback ladder
  int beam_size = 0;      // beams at temperature 0; 0 = greedy (OpenAI's transcribe(); its CLI: 5)
  int best_of = 1;        // samples at temperature > 0, the best kept (OpenAI's CLI: 5)
  float patience = 1.0f;  // beam search ends after round(beam_size * patience) finished hypotheses
  std::optional<float> length_penalty;  // nullopt = rank by sum_logprob / length; alpha = by
                                        // sum_logprob / ((5 + length) / 6)^alpha
  std::uint64_t seed = 0;  // sampling draws: the same seed, audio and options give the same text
  std::vector<int> suppress_tokens = {-1};  // ids never sampled; -1 = the non-speech symbols
  bool suppress_blank = true;               // no blank or eot as a window's first token
  std::optional<float> max_initial_timestamp = 1.0f;  // seconds; a window's first timestamp is
                                                      // at most this; nullopt = unlimited
  std::string prefix;                 // text forced at the start of every window; empty = none
  bool carry_initial_prompt = false;  // keep initial_prompt before every window's prompt
  bool word_timestamps = false;       // fill Segment::words (costs one more decoder pass a window)
  std::string prepend_punctuations = "\"'\u201c\u00bf([{-";  // merged into the next word
  std::string append_punctuations =
      "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001";  // merged into the previous word
  std::optional<float> hallucination_silence_threshold;  // seconds; with word_timestamps, skip
                                                         // silence longer than this around
                                                         // probable hallucinations; nullopt = off
  std::vector<double> clip_timestamps;  // seconds: start,end,start,end,... ranges to transcribe
                                        // (a last start runs to the end); empty = everything
  bool vad = false;  // drop long silences before decoding; times still refer to the original
                     // audio
  std::shared_ptr<const VadModel> vad_model;  // with vad: Silero's segments; nullptr = the
                                              // energy detector of our own
  VadOptions vad_options = transcription_vad_options();  // Silero's, with vad_model
  float compression_ratio_threshold = 2.4f;              // retry above it; <= 0 = never
  float logprob_threshold = -1.0f;   // retry below it (average log-prob per token)
  float no_speech_threshold = 0.6f;  // with logprob below threshold: window is silent
  int threads = 0;                   // compute threads; 0 = all cores
  // Decoder steps run together with those of other transcriptions of the same model that have
  // this set and run at the same time (one read of the weights for all), on their threads
  // together. Same results; for a server running several transcriptions at once.
  bool batch_steps = false;
  const std::atomic<bool>* cancel = nullptr;  // raised = stop at the next decoder step (kCancelled)
  std::function<void(double fraction_done)> on_progress;  // after each window
  std::function<void(const Segment&)> on_segment;         // each segment as soon as it is final
};

struct Timings {
  double mel_ms = 0;
  double encode_ms = 0;
  double decode_ms = 0;
  int tokens_decoded = 0;
};

struct Transcription {
  std::string text;                 // all segments' text concatenated
  std::string language;             // language used (given or detected)
  double language_probability = 0;  // detected probability; 1 when the language was given
  double duration = 0;              // audio seconds
  std::vector<Segment> segments;
  Timings timings;
  std::string vad;  // what dropped silence: "silero", "energy"; empty = nothing did
};

// Long-form transcription of 16 kHz mono samples, as OpenAI's transcribe() does it.
// Thread-safe for concurrent calls sharing one model. Throws Error.
Transcription transcribe(const Model& model, std::span<const float> samples,
                         const TranscribeOptions& options);

struct LanguageProbability {
  std::string code;  // "en", "de", ...
  double probability = 0;
};

// Probabilities of every language the model knows over the first 30 s, highest first.
// Throws Error(kInvalidArgument) for an English-only model.
std::vector<LanguageProbability> detect_language(const Model& model, std::span<const float> samples,
                                                 int threads = 0);

}  // namespace earshot
