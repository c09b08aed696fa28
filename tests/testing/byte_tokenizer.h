#pragma once

#include <string>
#include <vector>

#include "whisper/text/tokenizer.h"

namespace earshot::testing {

// A tokenizer whose ordinary tokens are the 256 single bytes (id = byte value, so " " is 32),
// with the special tokens of `n_vocab`'s layout: enough for tests that craft logits by id.
inline whisper::Tokenizer byte_tokenizer(int n_vocab = 51865) {
  std::vector<std::string> vocab;
  vocab.reserve(256);
  for (int b = 0; b < 256; ++b) {
    vocab.emplace_back(1, static_cast<char>(b));
  }
  return whisper::Tokenizer(std::move(vocab), n_vocab);
}

}  // namespace earshot::testing
