// Long-form transcription against the reference's transcribe_*.json (conformance README
// sections 4.2, 5, 6 B1/B9 and 7): once with the exact window mels the reference decoded
// (transcribe_*_window_mels.npy) fed to the long-form loop, once end to end through the
// engine's own whole-file log-mel, as earshot::transcribe() runs it.

#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "conformance/decoding_reference.h"
#include "testing/npy.h"
#include "testing/paths.h"
#include "testing/wav.h"
#include "whisper/engine/state_logits_source.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"
#include "whisper/text/tokenizer.h"
#include "whisper/transcribe/long_form.h"

namespace earshot::whisper {
namespace {

using earshot::testing::Agreement;
using earshot::testing::compare_tokens;
using earshot::testing::load_reference_json;
using earshot::testing::micro_model;
using nlohmann::json;

constexpr int kThreads = 2;

// The options of README section 5.
TranscribeOptions reference_options(const json& ref) {
  TranscribeOptions o;
  o.language = ref["options"]["language"].get<std::string>();
  o.temperatures = {0.0f};
  o.condition_on_previous_text = ref["options"]["condition_on_previous_text"].get<bool>();
  o.timestamps = !ref["options"].value("without_timestamps", false);
  o.threads = kThreads;
  return o;
}

struct WindowRun {
  int seek = 0;
  DecodingResult result;
};

// Compares the engine's windows and segments with the reference. Returns false when a
// near-tie made the rest incomparable.
void expect_same_transcription(const std::string& what, const std::vector<WindowRun>& windows,
                               const Transcription& t, const json& ref) {
  const json& ref_windows = ref["windows"];
  std::size_t identical = 0;
  for (std::size_t w = 0; w < std::min(windows.size(), ref_windows.size()); ++w) {
    const auto ref_tokens = ref_windows[w]["tokens"].get<std::vector<int>>();
    const auto a = compare_tokens(windows[w].result.tokens, windows[w].result.steps, ref_tokens,
                                  ref_windows[w]["steps"]);
    std::cout << "[ tokens   ] " << what << " window " << w << " (seek " << windows[w].seek
              << "): " << a.compared << "/" << ref_tokens.size() << " compared, "
              << (a.agreement == Agreement::kIdentical ? "identical"
                  : a.agreement == Agreement::kNearTie ? "NEAR-TIE: " + a.detail
                                                       : "MISMATCH: " + a.detail)
              << "\n";
    ASSERT_NE(a.agreement, Agreement::kMismatch) << what << " window " << w << ": " << a.detail;
    if (a.agreement == Agreement::kNearTie) {
      return;  // later windows follow another path
    }
    ++identical;
    const json& rw = ref_windows[w];
    EXPECT_NEAR(windows[w].result.avg_logprob, rw["avg_logprob"].get<double>(), 1e-4);
    const double ns = rw["no_speech_prob"].get<double>();
    EXPECT_NEAR(windows[w].result.no_speech_prob, ns, 1e-3 * ns);
    EXPECT_EQ(windows[w].result.compression_ratio, rw["compression_ratio"].get<double>());
    std::cout << "[ measured ] " << what << " window " << w << ": avg_logprob diff "
              << std::abs(windows[w].result.avg_logprob - rw["avg_logprob"].get<double>())
              << ", no_speech_prob rel diff " << std::abs(windows[w].result.no_speech_prob / ns - 1)
              << "\n";
  }
  ASSERT_EQ(windows.size(), ref_windows.size()) << what << ": window count";
  ASSERT_EQ(identical, ref_windows.size());

  ASSERT_EQ(t.segments.size(), ref["segments"].size());
  double worst_time = 0;
  for (std::size_t i = 0; i < t.segments.size(); ++i) {
    const Segment& s = t.segments[i];
    const json& rs = ref["segments"][i];
    EXPECT_EQ(s.id, rs["id"].get<int>());
    EXPECT_EQ(s.seek, rs["seek"].get<int>());
    worst_time = std::max({worst_time, std::abs(s.start - rs["start"].get<double>()),
                           std::abs(s.end - rs["end"].get<double>())});
    EXPECT_NEAR(s.start, rs["start"].get<double>(), 1e-6);
    EXPECT_NEAR(s.end, rs["end"].get<double>(), 1e-6);
    EXPECT_EQ(s.text, rs["text"].get<std::string>());
    EXPECT_EQ(s.tokens, rs["tokens"].get<std::vector<int>>());
    EXPECT_DOUBLE_EQ(s.temperature, rs["temperature"].get<double>());
    EXPECT_NEAR(s.avg_logprob, rs["avg_logprob"].get<double>(), 1e-4);
    EXPECT_EQ(s.compression_ratio, rs["compression_ratio"].get<double>());
    EXPECT_NEAR(s.no_speech_prob, rs["no_speech_prob"].get<double>(),
                1e-3 * rs["no_speech_prob"].get<double>());
  }
  EXPECT_EQ(t.text, ref["text"].get<std::string>());
  EXPECT_EQ(t.language, ref["language"].get<std::string>());
  std::cout << "[ measured ] " << what << ": " << t.segments.size()
            << " segments, max |start/end| diff " << worst_time << " s\n";
}

class Transcribe : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcribe, ReferenceWindowMelsThroughTheLongFormLoop) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const std::string name = GetParam();
  const std::string audio = name.substr(0, name.find('_'));
  const auto model = micro_model(dir / "micro.ggml.bin");
  const Tokenizer tokenizer = Tokenizer::for_model(*model);
  const json ref = load_reference_json(dir / "ref/micro" / ("transcribe_" + name + ".json"));
  const auto mels =
      earshot::testing::read_npy(dir / "ref/micro" / ("transcribe_" + name + "_window_mels.npy"));
  const auto wav = earshot::testing::read_wav_pcm16(dir / (audio + ".wav"));
  const int content_frames = static_cast<int>(wav.samples.size() / 160);

  std::vector<WindowRun> windows;
  std::size_t next_window = 0;
  const auto window_mel = [&](int /*seek*/) {
    // The i-th window the loop asks for is the reference's i-th: were the engine's seek
    // different, that window's tokens already differed and the comparison reports it.
    if (static_cast<std::int64_t>(next_window) >= mels.dim(0)) {
      throw std::runtime_error("more windows than the reference decoded");
    }
    const auto slice = mels.slice(static_cast<std::int64_t>(next_window++));
    return std::vector<float>(slice.begin(), slice.end());
  };
  LongFormHooks hooks;
  hooks.record_steps = true;
  hooks.on_window = [&](int seek, const DecodingResult& r) { windows.push_back({seek, r}); };

  WhisperState state(*model, kThreads);
  StateLogitsSource source(state);
  const TranscribeOptions options = reference_options(ref);
  Transcription t;
  try {
    t = run_long_form(source, tokenizer, model->dims().n_text_ctx, options, "en", content_frames,
                      window_mel, nullptr, hooks);
  } catch (const std::runtime_error& e) {
    ADD_FAILURE() << e.what();
  }
  expect_same_transcription(name + " (reference window mels)", windows, t, ref);
}

TEST_P(Transcribe, EndToEndFromTheRecording) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const std::string name = GetParam();
  const std::string audio = name.substr(0, name.find('_'));
  const auto model = micro_model(dir / "micro.ggml.bin");
  const json ref = load_reference_json(dir / "ref/micro" / ("transcribe_" + name + ".json"));
  const auto wav = earshot::testing::read_wav_pcm16(dir / (audio + ".wav"));

  std::vector<WindowRun> windows;
  LongFormHooks hooks;
  hooks.record_steps = true;
  hooks.on_window = [&](int seek, const DecodingResult& r) { windows.push_back({seek, r}); };
  TranscribeOptions options = reference_options(ref);
  std::vector<double> progress;
  std::vector<int> segment_ids;
  options.on_progress = [&](double f) { progress.push_back(f); };
  options.on_segment = [&](const Segment& s) { segment_ids.push_back(s.id); };
  const Transcription t = transcribe_samples(*model, wav.samples, options, hooks);
  expect_same_transcription(name + " (own mel, transcribe)", windows, t, ref);

  EXPECT_DOUBLE_EQ(t.duration, static_cast<double>(wav.samples.size()) / 16000.0);
  EXPECT_EQ(t.language_probability, 1.0) << "the language was given";
  ASSERT_EQ(progress.size(), windows.size());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(segment_ids.size(), t.segments.size());
  EXPECT_GT(t.timings.mel_ms, 0);
  EXPECT_GT(t.timings.encode_ms, 0);
  EXPECT_GT(t.timings.decode_ms, 0);
  int decoded = 0;
  for (const auto& w : windows) {
    decoded += static_cast<int>(w.result.tokens.size()) + (w.result.ended_with_eot ? 1 : 0);
  }
  EXPECT_EQ(t.timings.tokens_decoded, decoded);

  // The public entry point is the same computation.
  const Transcription pub = transcribe(*model, wav.samples, reference_options(ref));
  ASSERT_EQ(pub.segments.size(), t.segments.size());
  for (std::size_t i = 0; i < t.segments.size(); ++i) {
    EXPECT_EQ(pub.segments[i].tokens, t.segments[i].tokens);
    EXPECT_EQ(pub.segments[i].start, t.segments[i].start);
  }
  EXPECT_EQ(pub.text, t.text);
}

// With no language given, transcribe() detects it on the first 3000 frames of the whole-file
// mel (README section 6, last paragraph). For hello (8.27 s) those frames equal mel_30s: the
// clamp floor comes from the same audio and both pad with digital silence, so the detection
// must reproduce lang_probs.json.
TEST(TranscribeLanguage, DetectedOnTheFirstWindowOfTheWholeFileMel) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir / "micro.ggml.bin");
  const json ref = load_reference_json(dir / "ref/micro/lang_probs.json");
  const auto wav = earshot::testing::read_wav_pcm16(dir / "hello.wav");
  TranscribeOptions options;
  options.threads = kThreads;
  options.temperatures = {0.0f};
  options.sample_len = 8;
  const Transcription t = transcribe(*model, wav.samples, options);
  EXPECT_EQ(t.language, ref["detected"].get<std::string>());
  const double expected = ref["probs"][ref["detected"].get<std::string>()].get<double>();
  EXPECT_NEAR(t.language_probability, expected, 1e-5);
  std::cout << "[ measured ] hello auto language: " << t.language << " p=" << t.language_probability
            << " (reference " << expected << ")\n";
}

INSTANTIATE_TEST_SUITE_P(Reference, Transcribe,
                         ::testing::Values("hello", "hello_nots", "long45", "long45_nots"));

}  // namespace
}  // namespace earshot::whisper
