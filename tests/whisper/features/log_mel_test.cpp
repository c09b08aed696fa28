// Properties of the log-mel front end that hold for any audio (the conformance suite checks
// the exact values against OpenAI's).

#include "whisper/features/log_mel.h"

#include <cmath>
#include <complex>
#include <numbers>
#include <random>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "model_writer/model_writer.h"

namespace earshot::whisper {
namespace {

const std::vector<float>& filters80() {
  static const std::vector<float> filters = tools::mel_filter_bank(80);
  return filters;
}

std::vector<float> tone(std::size_t n, double hz, double amplitude = 0.5) {
  std::vector<float> s(n);
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<float>(
        amplitude * std::sin(2.0 * std::numbers::pi * hz * static_cast<double>(i) / 16000.0));
  }
  return s;
}

TEST(LogMel, FrameCountIsSamplesOverHop) {
  for (const std::size_t n : {0u, 1u, 159u, 160u, 161u, 1000u, 16000u}) {
    const auto mel = compute_log_mel(std::vector<float>(n, 0.1f), filters80(), 80);
    EXPECT_EQ(mel.n_frames, static_cast<int>(n / 160)) << n;
    EXPECT_EQ(mel.n_mels, 80);
    EXPECT_EQ(mel.data.size(), 80u * (n / 160)) << n;
  }
  EXPECT_EQ(single_window_log_mel(std::vector<float>(100), filters80(), 80).n_frames, 3000);
  EXPECT_EQ(single_window_log_mel(std::vector<float>(600000), filters80(), 80).n_frames, 3000);
  EXPECT_EQ(long_form_log_mel(std::vector<float>(16000), filters80(), 80).n_frames, 3100);
}

TEST(LogMel, SilenceIsTheClampFloorEverywhere) {
  const auto mel = compute_log_mel(std::vector<float>(8000, 0.0f), filters80(), 80);
  // log10(1e-10) = -10 everywhere: the max, so (−10 + 4) / 4.
  for (float v : mel.data) EXPECT_FLOAT_EQ(v, -1.5f);
}

TEST(LogMel, DynamicRangeIsEightDecadesAfterNormalisation) {
  auto samples = tone(32000, 440.0);
  std::fill(samples.begin() + 16000, samples.end(), 0.0f);  // half tone, half silence
  const auto mel = compute_log_mel(samples, filters80(), 80);
  const auto [lo, hi] = std::minmax_element(mel.data.begin(), mel.data.end());
  EXPECT_FLOAT_EQ(*hi - *lo, 2.0f);  // 8 decades / 4
}

TEST(LogMel, ToneEnergyLandsInTheBandHoldingItsFrequency) {
  const auto mel = compute_log_mel(tone(16000, 1000.0), filters80(), 80);
  const auto& f = filters80();
  // Band whose filter weighs bin 25 (25 * 40 Hz = 1 kHz) the most.
  int expected_band = 0;
  for (int b = 1; b < 80; ++b) {
    if (f[static_cast<std::size_t>(b) * 201 + 25] >
        f[static_cast<std::size_t>(expected_band) * 201 + 25])
      expected_band = b;
  }
  const int frame = 50;
  int loudest = 0;
  for (int b = 1; b < 80; ++b) {
    if (mel.data[static_cast<std::size_t>(b) * mel.n_frames + frame] >
        mel.data[static_cast<std::size_t>(loudest) * mel.n_frames + frame]) {
      loudest = b;
    }
  }
  EXPECT_EQ(loudest, expected_band);
}

TEST(LogMel, FirstFrameMatchesADirectDftOfTheReflectPaddedSignal) {
  // An independent computation of frame 0 (reflect padding, periodic Hann, DFT by definition)
  // and of the last kept frame (reflect padding at the end).
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> samples(1600);
  for (auto& s : samples) s = dist(rng);
  const auto mel = compute_log_mel(samples, filters80(), 80);
  const auto n = static_cast<std::int64_t>(samples.size());
  auto frame_log_mel = [&](int t) {
    std::vector<double> power(201);
    for (int k = 0; k < 201; ++k) {
      std::complex<double> acc = 0;
      for (int i = 0; i < 400; ++i) {
        std::int64_t pos = static_cast<std::int64_t>(t) * 160 + i - 200;
        if (pos < 0) pos = -pos;
        if (pos >= n) pos = 2 * (n - 1) - pos;
        const double w = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / 400.0);
        acc += samples[static_cast<std::size_t>(pos)] * w *
               std::polar(1.0, -2.0 * std::numbers::pi * k * i / 400.0);
      }
      power[static_cast<std::size_t>(k)] = std::norm(acc);
    }
    std::vector<double> out(80);
    for (int b = 0; b < 80; ++b) {
      double e = 0;
      for (int k = 0; k < 201; ++k)
        e +=
            filters80()[static_cast<std::size_t>(b) * 201 + k] * power[static_cast<std::size_t>(k)];
      out[static_cast<std::size_t>(b)] = std::log10(std::max(e, 1e-10));
    }
    return out;
  };
  // Undo the normalisation using the known global max: compare differences between bands,
  // which the shift and scale preserve up to the factor 1/4.
  for (const int t : {0, mel.n_frames - 1}) {
    const auto expected = frame_log_mel(t);
    for (int b = 1; b < 80; ++b) {
      const double ours = 4.0 * (mel.data[static_cast<std::size_t>(b) * mel.n_frames + t] -
                                 mel.data[static_cast<std::size_t>(b - 1) * mel.n_frames + t]);
      const double theirs =
          expected[static_cast<std::size_t>(b)] - expected[static_cast<std::size_t>(b - 1)];
      EXPECT_NEAR(ours, theirs, 2e-5) << "frame " << t << " band " << b;
    }
  }
}

TEST(LogMel, ThreadCountDoesNotChangeTheResult) {
  const auto samples = tone(480000, 523.25, 0.3);
  const auto one = compute_log_mel(samples, filters80(), 80, 1);
  const auto two = compute_log_mel(samples, filters80(), 80, 2);
  EXPECT_EQ(one.data, two.data);
}

TEST(LogMel, WrongFilterBankIsRefused) {
  try {
    (void)compute_log_mel(std::vector<float>(1600), std::vector<float>(80 * 200), 80);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(WindowMel, SlicesThenPadsWithZero) {
  LogMel whole;
  whole.n_mels = 2;
  whole.n_frames = 4000;
  whole.data.resize(8000);
  for (int i = 0; i < 8000; ++i)
    whole.data[static_cast<std::size_t>(i)] = static_cast<float>(i % 4000) + 1.0f;
  // Content ends at frame 3500: window at seek 2478 holds frames 2478..3499, then zeros.
  const auto w = window_mel(whole, 2478, 3500);
  ASSERT_EQ(w.n_frames, 3000);
  ASSERT_EQ(w.n_mels, 2);
  for (int b = 0; b < 2; ++b) {
    const float* row = w.data.data() + static_cast<std::size_t>(b) * 3000;
    EXPECT_EQ(row[0], 2479.0f);
    EXPECT_EQ(row[1021], 3500.0f);
    EXPECT_EQ(row[1022], 0.0f);
    EXPECT_EQ(row[2999], 0.0f);
  }
  // A full window is a plain slice.
  const auto full = window_mel(whole, 100, 4000);
  EXPECT_EQ(full.data[0], 101.0f);
  EXPECT_EQ(full.data[2999], 3100.0f);
  // Past the content: all zeros.
  const auto empty = window_mel(whole, 3600, 3500);
  EXPECT_TRUE(std::all_of(empty.data.begin(), empty.data.end(), [](float v) { return v == 0.0f; }));
}

}  // namespace
}  // namespace earshot::whisper
