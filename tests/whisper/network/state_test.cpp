// WhisperState against a plain scalar forward pass written from the architecture
// (OpenAI's model.py) for writer-made models of odd sizes, plus its error paths.

#include "whisper/network/state.h"

#include <cmath>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "testing/array_compare.h"
#include "testing/small_model.h"
#include "whisper/kernels/attention/attention.h"
#include "whisper/kernels/kernels.h"

namespace earshot::whisper {
namespace {

using testing::compare_arrays;

using Matrix = std::vector<float>;  // row-major [rows x cols]

// y = x W^T + b over rows of x.
Matrix linear(const Matrix& x, std::int64_t rows, const LinearWeights& w) {
  const std::int64_t out = w.weight.shape[0];
  const std::int64_t in = w.weight.shape[1];
  Matrix y(static_cast<std::size_t>(rows * out));
  const std::vector<float> weight = w.weight.to_f32();  // f16 matrices as their exact f32 values
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = w.bias.data.empty() ? 0.0 : w.bias.data[static_cast<std::size_t>(o)];
      for (std::int64_t i = 0; i < in; ++i) {
        acc += static_cast<double>(x[static_cast<std::size_t>(r * in + i)]) *
               weight[static_cast<std::size_t>(o * in + i)];
      }
      y[static_cast<std::size_t>(r * out + o)] = static_cast<float>(acc);
    }
  }
  return y;
}

Matrix norm(const Matrix& x, std::int64_t rows, const LayerNormWeights& ln) {
  Matrix y(x.size());
  reference::layer_norm(x.data(), rows, static_cast<std::int64_t>(ln.weight.data.size()),
                        ln.weight.ptr(), ln.bias.ptr(), y.data());
  return y;
}

void add(Matrix& x, const Matrix& y) {
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

Matrix attend(const Matrix& x, std::int64_t rows, const Matrix& kv_source, std::int64_t kv_rows,
              const AttentionWeights& a, int heads, std::int64_t causal_offset) {
  const Matrix q = linear(x, rows, a.query);
  const Matrix k = linear(kv_source, kv_rows, a.key);
  const Matrix v = linear(kv_source, kv_rows, a.value);
  const std::int64_t d = a.query.weight.shape[0];
  Matrix o(static_cast<std::size_t>(rows * d));
  reference::attention(q.data(), d, k.data(), d, v.data(), d, o.data(), d,
                       {rows, kv_rows, heads, d / heads, causal_offset});
  return linear(o, rows, a.out);
}

// Conv1d, kernel 3, padding 1, over a [channels x frames] input, giving [out_frames x out].
Matrix conv(const float* in, std::int64_t channels, std::int64_t frames, std::int64_t stride,
            const Tensor& w, const Tensor& b) {
  const std::int64_t out = w.shape[0];
  const std::int64_t out_frames = (frames - 1) / stride + 1;
  Matrix y(static_cast<std::size_t>(out_frames * out));
  for (std::int64_t t = 0; t < out_frames; ++t) {
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = b.data[static_cast<std::size_t>(o)];
      for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t j = 0; j < 3; ++j) {
          const std::int64_t src = t * stride + j - 1;
          if (src < 0 || src >= frames) continue;
          acc += static_cast<double>(w.data[static_cast<std::size_t>((o * channels + c) * 3 + j)]) *
                 in[c * frames + src];
        }
      }
      y[static_cast<std::size_t>(t * out + o)] = reference::gelu(static_cast<float>(acc));
    }
  }
  return y;
}

Matrix transpose(const Matrix& x, std::int64_t rows, std::int64_t cols) {
  Matrix y(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c)
      y[static_cast<std::size_t>(c * rows + r)] = x[static_cast<std::size_t>(r * cols + c)];
  }
  return y;
}

Matrix reference_encoder(const Model& m, const Matrix& mel) {
  const auto& dims = m.dims();
  const auto& w = m.weights().encoder;
  const std::int64_t frames = 2 * dims.n_audio_ctx;
  const std::int64_t ctx = dims.n_audio_ctx;
  const std::int64_t d = dims.n_audio_state;
  const Matrix c1 = conv(mel.data(), dims.n_mels, frames, 1, w.conv1_weight, w.conv1_bias);
  const Matrix c1_channels = transpose(c1, frames, d);
  Matrix x = conv(c1_channels.data(), d, frames, 2, w.conv2_weight, w.conv2_bias);
  add(x, w.positional_embedding.data);
  for (const auto& b : w.blocks) {
    add(x, attend(norm(x, ctx, b.attn_ln), ctx, norm(x, ctx, b.attn_ln), ctx, b.attn,
                  dims.n_audio_head, -1));
    Matrix h = linear(norm(x, ctx, b.mlp_ln), ctx, b.mlp_fc1);
    for (auto& v : h) v = reference::gelu(v);
    add(x, linear(h, ctx, b.mlp_fc2));
  }
  return norm(x, ctx, w.ln_post);
}

// All rows' logits for `tokens` from position 0, without any cache.
Matrix reference_decoder(const Model& m, const Matrix& audio,
                         const std::vector<std::int32_t>& tokens) {
  const auto& dims = m.dims();
  const auto& w = m.weights().decoder;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t d = dims.n_text_state;
  Matrix x(static_cast<std::size_t>(n * d));
  const std::vector<float> embedding = w.token_embedding.to_f32();
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < d; ++c) {
      x[static_cast<std::size_t>(i * d + c)] =
          embedding[static_cast<std::size_t>(tokens[static_cast<std::size_t>(i)] * d + c)] +
          w.positional_embedding.data[static_cast<std::size_t>(i * d + c)];
    }
  }
  for (const auto& b : w.blocks) {
    const Matrix h = norm(x, n, b.attn_ln);
    add(x, attend(h, n, h, n, b.attn, dims.n_text_head, 0));
    add(x, attend(norm(x, n, b.cross_attn_ln), n, audio, dims.n_audio_ctx, b.cross_attn,
                  dims.n_text_head, -1));
    Matrix f = linear(norm(x, n, b.mlp_ln), n, b.mlp_fc1);
    for (auto& v : f) v = reference::gelu(v);
    add(x, linear(f, n, b.mlp_fc2));
  }
  const Matrix h = norm(x, n, w.ln);
  LinearWeights out{w.token_embedding, {}};
  return linear(h, n, out);
}

Matrix random_mel(const ModelDims& dims, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.5f);
  Matrix mel(static_cast<std::size_t>(dims.n_mels * 2 * dims.n_audio_ctx));
  for (auto& v : mel) v = dist(rng);
  return mel;
}

class StateTest : public ::testing::TestWithParam<std::int32_t> {};

TEST_P(StateTest, MatchesAScalarForwardPass) {
  const auto model = test::parse(test::small_contents(GetParam()));
  const auto mel = random_mel(model->dims(), 1);
  const std::vector<std::int32_t> tokens = {5, 299, 17, 256, 42, 42, 3, 100, 7, 0};
  const Matrix expected_audio = reference_encoder(*model, mel);
  const Matrix expected_logits = reference_decoder(*model, expected_audio, tokens);

  for (const int threads : {1, 2}) {
    WhisperState state(*model, threads);
    state.encode(mel);
    const auto enc = compare_arrays(state.encoder_output(), expected_audio);
    EXPECT_LE(enc.max_abs, 2e-5) << "threads " << threads;

    std::vector<float> all;
    state.decode(tokens, /*all_rows=*/true, all);
    EXPECT_LE(compare_arrays(all, expected_logits).max_abs, 5e-5) << "threads " << threads;
    EXPECT_EQ(state.n_past(), static_cast<int>(tokens.size()));

    // The same through the cache, in uneven chunks, last row only.
    state.truncate(0);
    std::vector<float> last;
    std::size_t done = 0;
    for (const std::size_t chunk : {3u, 1u, 4u, 1u, 1u}) {
      state.decode(std::span(tokens).subspan(done, chunk), /*all_rows=*/false, last);
      done += chunk;
      ASSERT_EQ(last.size(), 300u);
      const auto row = std::span<const float>(expected_logits).subspan((done - 1) * 300, 300);
      EXPECT_LE(compare_arrays(last, row).max_abs, 5e-5) << "after " << done << " tokens";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryStorageType, StateTest,
                         ::testing::Values(tools::kTypeF32, tools::kTypeF16, tools::kTypeQ8_0,
                                           tools::kTypeQ4_0, tools::kTypeQ5_1));

TEST(State, NewWindowResetsTheCache) {
  const auto model = test::parse(test::small_contents());
  WhisperState state(*model, 2);
  std::vector<float> first, again;
  const std::vector<std::int32_t> tokens = {1, 2, 3};
  state.encode(random_mel(model->dims(), 2));
  state.decode(tokens, false, first);
  state.encode(random_mel(model->dims(), 3));
  EXPECT_EQ(state.n_past(), 0);
  state.encode(random_mel(model->dims(), 2));
  state.decode(tokens, false, again);
  EXPECT_EQ(first, again);
}

TEST(State, RefusesBadCalls) {
  const auto model = test::parse(test::small_contents());
  WhisperState state(*model, 1);
  std::vector<float> logits;
  const std::vector<std::int32_t> one = {1};
  auto expect_invalid = [](auto&& f, const char* what) {
    try {
      f();
      ADD_FAILURE() << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << what << ": " << e.what();
    }
  };
  expect_invalid([&] { state.decode(one, false, logits); }, "decode before encode");
  expect_invalid([&] { state.encode(std::vector<float>(10)); }, "mel of the wrong size");
  state.encode(random_mel(model->dims(), 4));
  expect_invalid([&] { state.decode(std::vector<std::int32_t>{300}, false, logits); },
                 "token == n_vocab");
  expect_invalid([&] { state.decode(std::vector<std::int32_t>{-1}, false, logits); },
                 "negative token");
  expect_invalid([&] { state.decode(std::vector<std::int32_t>{}, false, logits); }, "no tokens");
  expect_invalid([&] { state.decode(std::vector<std::int32_t>(17, 1), false, logits); },
                 "past n_text_ctx");
  state.decode(std::vector<std::int32_t>(16, 1), false, logits);  // exactly n_text_ctx fits
  expect_invalid([&] { state.decode(one, false, logits); }, "cache full");
  expect_invalid([&] { state.truncate(17); }, "truncate beyond n_past");
  expect_invalid([&] { state.truncate(-1); }, "negative truncate");
  state.truncate(15);
  state.decode(one, false, logits);
  EXPECT_EQ(state.n_past(), 16);
}

TEST(State, ManyStatesShareOneModel) {
  const auto model = test::parse(test::small_contents());
  const auto mel = random_mel(model->dims(), 5);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&, i] {
      WhisperState state(*model, 1);
      state.encode(mel);
      state.decode(std::vector<std::int32_t>{1, 2, 3, 4}, true,
                   results[static_cast<std::size_t>(i)]);
    });
  }
  for (auto& w : workers) w.join();
  for (int i = 1; i < 4; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], results[0]);
}

}  // namespace
}  // namespace earshot::whisper
