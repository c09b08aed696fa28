#pragma once

// Whisper's byte-level BPE tokenizer in the tiktoken style (OpenAI's tokenizer.py over tiktoken): a
// token's id is its merge rank; text is first split with the GPT-2 pre-tokenizer pattern.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "whisper/text/special_tokens.h"

namespace earshot {
class Model;
}

namespace earshot::whisper {

class Tokenizer {
 public:
  // `vocab`: the byte string of every ordinary token, entry i = id i = merge rank (the ggml
  // file's vocabulary; entries at ids >= eot are ignored). `n_vocab` fixes the special-token
  // layout. Throws Error(kModelFormat) for an unknown layout.
  Tokenizer(std::vector<std::string> vocab, int n_vocab);
  // The tokenizer of a loaded model (Model::vocab(), dims().n_vocab).
  static Tokenizer for_model(const Model& model);

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  const SpecialTokens& special() const { return special_; }

  // Ordinary-text encoding (special-token text such as "<|en|>" is encoded as plain text).
  // Throws Error(kInvalidArgument) when `text` is not valid UTF-8 or uses a byte the
  // vocabulary has no token for.
  std::vector<int> encode(std::string_view text) const;

  // OpenAI's Tokenizer.decode: timestamp tokens dropped, other special tokens as their text
  // ("<|en|>"), the whole byte sequence decoded at once with invalid UTF-8 replaced by U+FFFD.
  // Throws Error(kInvalidArgument) for an id outside [0, n_vocab).
  std::string decode(std::span<const int> ids) const;
  // decode_with_timestamps: the same, with timestamps rendered as "<|1.08|>".
  std::string decode_with_timestamps(std::span<const int> ids) const;

  // The raw bytes of one ordinary token, or the text of a special one.
  std::string token_bytes(int id) const;

  // OpenAI's Tokenizer.non_speech_tokens: ids of symbols and punctuation Whisper should not
  // produce by default (the "-1" entry of suppress_tokens), sorted ascending.
  std::vector<int> non_speech_tokens() const;

 private:
  struct Splitter;  // the compiled pre-tokenizer pattern

  void append_piece_tokens(std::string_view piece, std::vector<int>& out) const;
  std::string decode_bytes(std::span<const int> ids, bool with_timestamps) const;

  // Transparent hashing so pieces (string_view) are looked up without a copy.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  SpecialTokens special_;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> ranks_;
  std::unique_ptr<Splitter> splitter_;
};

// The tokenizer of a loaded model, built on first use (tens of thousands of entries and a
// compiled pattern) and shared by every transcription of it; safe to call from any thread.
const Tokenizer& tokenizer_of(const Model& model);

}  // namespace earshot::whisper
