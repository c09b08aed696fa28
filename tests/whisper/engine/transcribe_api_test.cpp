// earshot::transcribe() and earshot::detect_language() on writer-made models of each of
// Whisper's three vocabulary layouts (English-only, multilingual, large-v3 with 128 mels):
// random weights give meaningless text, so these check the API's contract, not the words.

#include <cmath>
#include <map>
#include <numeric>
#include <thread>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "whisper/model/model.h"
#include "whisper/text/special_tokens.h"

namespace earshot::whisper {
namespace {

// Writing and parsing a model takes about a second: each layout is made once per run.
std::shared_ptr<const Model> micro_model_with(int n_vocab, int n_mels) {
  static std::map<int, std::shared_ptr<const Model>> made;
  auto& slot = made[n_vocab];
  if (slot) {
    return slot;
  }
  tools::ModelSpec spec;
  spec.dims = *tools::preset_dims("micro");
  spec.dims.n_vocab = n_vocab;
  spec.dims.n_mels = n_mels;
  spec.seed = 11;
  slot = parse_model(tools::serialize(tools::make_model(spec)), "micro-" + std::to_string(n_vocab));
  return slot;
}

// 12 s of a gliding tone with a little noise: audio the encoder has something to see in.
std::vector<float> test_signal(double seconds) {
  std::vector<float> s(static_cast<std::size_t>(seconds * 16000));
  std::uint32_t lcg = 12345;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    lcg = lcg * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(lcg >> 8) / (1u << 24) - 0.5) * 0.02;
    s[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * (200 + 40 * t) * t) + noise);
  }
  return s;
}

TranscribeOptions quick_options() {
  TranscribeOptions o;
  o.threads = 2;
  o.sample_len = 24;  // random weights rarely end on their own
  o.temperatures = {0.0f, 0.6f};
  return o;
}

// What every transcription must satisfy, whatever the words.
void expect_well_formed(const Transcription& t, const SpecialTokens& sp, double duration) {
  EXPECT_DOUBLE_EQ(t.duration, duration);
  int previous_seek = -1;
  std::string text;
  for (std::size_t i = 0; i < t.segments.size(); ++i) {
    const Segment& s = t.segments[i];
    EXPECT_EQ(s.id, static_cast<int>(i));
    EXPECT_GE(s.seek, previous_seek);
    previous_seek = s.seek;
    EXPECT_LE(s.start, s.end);
    EXPECT_GE(s.start, s.seek / 100.0 - 1e-9);
    for (const int id : s.tokens) {
      EXPECT_TRUE(id >= 0 && id < sp.n_vocab) << id;
    }
    EXPECT_TRUE(s.temperature == 0.0 || std::abs(s.temperature - 0.6) < 1e-6);
    text += s.text;
  }
  EXPECT_EQ(text, t.text);
  EXPECT_GT(t.timings.tokens_decoded, 0);
}

TEST(TranscribeApi, EnglishOnlyModelTranscribesInEnglishAndRefusesDetection) {
  const auto model = micro_model_with(51864, 80);
  const auto sp = SpecialTokens::for_vocab_size(51864);
  const auto audio = test_signal(12.0);
  TranscribeOptions o = quick_options();
  o.language = "";  // auto: English-only models need no detection
  const Transcription t = transcribe(*model, audio, o);
  EXPECT_EQ(t.language, "en");
  EXPECT_EQ(t.language_probability, 1.0);
  expect_well_formed(t, sp, 12.0);
  try {
    (void)detect_language(*model, audio, 2);
    ADD_FAILURE() << "English-only model detected a language";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(TranscribeApi, MultilingualModelDetectsTheLanguageItThenUses) {
  const auto model = micro_model_with(51865, 80);
  const auto sp = SpecialTokens::for_vocab_size(51865);
  const auto audio = test_signal(12.0);
  const auto probs = detect_language(*model, audio, 2);
  ASSERT_EQ(probs.size(), 99u);
  EXPECT_NEAR(std::accumulate(probs.begin(), probs.end(), 0.0,
                              [](double a, const auto& p) { return a + p.probability; }),
              1.0, 1e-5);
  EXPECT_TRUE(std::is_sorted(probs.begin(), probs.end(), [](const auto& a, const auto& b) {
    return a.probability > b.probability;
  }));

  TranscribeOptions o = quick_options();
  o.language = "auto";
  const Transcription t = transcribe(*model, audio, o);
  // Audio under 30 s: the first 3000 frames of the whole-file mel are what detect_language()
  // sees too, up to the STFT at the 30 s edge, so the choice agrees.
  EXPECT_EQ(t.language, probs.front().code);
  EXPECT_NEAR(t.language_probability, probs.front().probability, 1e-4);
  expect_well_formed(t, sp, 12.0);

  o.language = "xx";
  EXPECT_THROW((void)transcribe(*model, audio, o), Error);
  o.language = "yue";  // Cantonese needs the large-v3 layout
  EXPECT_THROW((void)transcribe(*model, audio, o), Error);
  o.language = "German";
  EXPECT_EQ(transcribe(*model, audio, o).language, "de");
}

TEST(TranscribeApi, ConcurrentCallsOnOneModelAgree) {
  const auto model = micro_model_with(51865, 80);
  const auto audio = test_signal(6.0);
  TranscribeOptions o = quick_options();
  o.language = "en";
  o.threads = 1;
  const Transcription alone = transcribe(*model, audio, o);
  std::vector<Transcription> results(2);
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (auto& r : results) {
    threads.emplace_back([&] { r = transcribe(*model, audio, o); });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& r : results) {
    EXPECT_EQ(r.text, alone.text);
    ASSERT_EQ(r.segments.size(), alone.segments.size());
    for (std::size_t i = 0; i < r.segments.size(); ++i) {
      EXPECT_EQ(r.segments[i].tokens, alone.segments[i].tokens);
    }
  }
}

TEST(TranscribeApi, LargeV3LayoutKnowsCantonese) {
  const auto model = micro_model_with(51866, 128);
  const auto sp = SpecialTokens::for_vocab_size(51866);
  const auto audio = test_signal(5.0);
  const auto probs = detect_language(*model, audio, 2);
  ASSERT_EQ(probs.size(), 100u);
  EXPECT_TRUE(
      std::any_of(probs.begin(), probs.end(), [](const auto& p) { return p.code == "yue"; }));
  TranscribeOptions o = quick_options();
  o.language = "yue";
  o.task = Task::kTranslate;
  const Transcription t = transcribe(*model, audio, o);
  EXPECT_EQ(t.language, "yue");
  expect_well_formed(t, sp, 5.0);
}

TEST(TranscribeApi, TimestampsOffGivesWholeWindowSegments) {
  const auto model = micro_model_with(51865, 80);
  const auto sp = SpecialTokens::for_vocab_size(51865);
  TranscribeOptions o = quick_options();
  o.language = "en";
  o.timestamps = false;
  const auto audio = test_signal(40.0);
  const Transcription t = transcribe(*model, audio, o);
  expect_well_formed(t, sp, 40.0);
  ASSERT_FALSE(t.segments.empty());
  EXPECT_EQ(t.segments.front().seek, 0);
}

TEST(TranscribeApi, EmptyAudioGivesAnEmptyTranscription) {
  const auto model = micro_model_with(51865, 80);
  std::vector<double> progress;
  TranscribeOptions o = quick_options();
  o.language = "en";
  o.on_progress = [&](double f) { progress.push_back(f); };
  const Transcription t = transcribe(*model, std::span<const float>(), o);
  EXPECT_TRUE(t.segments.empty());
  EXPECT_EQ(t.text, "");
  EXPECT_EQ(t.duration, 0.0);
  EXPECT_EQ(progress, (std::vector<double>{1.0}));
}

TEST(TranscribeApi, CancelledBeforeStartThrows) {
  const auto model = micro_model_with(51865, 80);
  std::atomic<bool> cancel{true};
  TranscribeOptions o = quick_options();
  o.language = "en";
  o.cancel = &cancel;
  try {
    (void)transcribe(*model, test_signal(3.0), o);
    ADD_FAILURE() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
}

}  // namespace
}  // namespace earshot::whisper
