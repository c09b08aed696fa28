#include "testing/scripted_model.h"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "load_client.h"
#include "model_writer/model_writer.h"

namespace earshot::testing {

ScriptedModel write_scripted_model(const std::filesystem::path& path) {
  auto dims = *tools::preset_dims("micro");
  tools::ModelSpec spec;
  spec.dims = dims;
  spec.seed = 11;
  auto contents = tools::make_model(spec);

  // Multilingual layout (n_vocab 51865), as tokenizer.py lays it out.
  constexpr int kEot = 50257;
  constexpr int kTimestampBegin = 50364;
  constexpr int kTextToken = 1000;
  const int d = dims.n_text_state;

  auto tensor = [&](const std::string& name) -> tools::TensorRecord& {
    for (auto& t : contents.tensors) {
      if (t.name == name) return t;
    }
    throw std::runtime_error("no tensor " + name);
  };
  auto& ln_w = tensor("decoder.ln.weight");
  auto& ln_b = tensor("decoder.ln.bias");
  std::fill(ln_w.values.begin(), ln_w.values.end(), 0.0f);
  std::fill(ln_b.values.begin(), ln_b.values.end(), 0.0f);
  ln_b.values[0] = 1.0f;

  auto& emb = tensor("decoder.token_embedding.weight");
  emb.type = tools::kTypeF32;
  std::fill(emb.values.begin(), emb.values.end(), 0.0f);
  auto logit = [&](int id, float v) { emb.values[static_cast<std::size_t>(id) * d] = v; };
  // Step 1 (only <|0.00|>..<|1.00|> allowed): <|0.00|>.
  logit(kTimestampBegin + 0, 25.0f);
  // Step 2 (timestamps masked): the text token over eot.
  logit(kTextToken, 20.0f);
  logit(kEot, 19.9f);
  // Step 3: the timestamps 1..139 together outweigh the text token, so a timestamp must come;
  // the best is <|2.80|> (index 140).
  const float rest = 19.8f + std::log(0.3435f / 139.0f);
  for (int i = 1; i < 140; ++i) logit(kTimestampBegin + i, rest);
  logit(kTimestampBegin + 140, 19.8f);
  // Step 4 (only timestamps >= <|2.80|> or eot): eot.

  // ctest runs test processes in parallel, and another process's server may have this file
  // memory-mapped: write a private file and rename it into place, so that a reader sees
  // the old file or the new one, never a half-written one.
  const auto temp = path.string() + ".tmp." + std::to_string(::getpid());
  tools::write_model_file(contents, temp);
  std::filesystem::rename(temp, path);
  ScriptedModel m;
  m.path = path;
  m.text_token = kTextToken;
  m.text = contents.vocab.at(kTextToken);
  m.segment_end = 2.8;
  return m;
}

std::string tone_wav(double seconds, double frequency) {
  return tools::tone_wav(seconds, frequency);
}

}  // namespace earshot::testing
