#pragma once

// A model file whose decoder always says the same short thing, for tests of everything
// around the engine (HTTP routes, scheduling, CLI) that need fast, deterministic results.
//
// The final decoder LayerNorm has weight 0 and bias e0, so every position's logits are the
// first column of the token embedding. Choosing those values scripts each window's decoding
// under the reference's timestamp rules: <|0.00|> <text_token> <|2.80|> <|endoftext|>, with
// an average log-probability above -1 (no temperature fallback) and no_speech_prob near 0.

#include <filesystem>
#include <string>

namespace earshot::testing {

struct ScriptedModel {
  std::filesystem::path path;
  int text_token = 0;      // the one text token each window decodes
  std::string text;        // its bytes
  double segment_end = 0;  // seconds after the window start where each segment ends
};

// Writes the model (micro dims, multilingual vocabulary) to `path`.
ScriptedModel write_scripted_model(const std::filesystem::path& path);

// 16 kHz mono s16 WAV bytes of a tone of `seconds`.
std::string tone_wav(double seconds, double frequency = 440.0);

}  // namespace earshot::testing
