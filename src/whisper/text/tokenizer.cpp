#include "whisper/text/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <algorithm>
#include <array>
#include <limits>
#include <set>

#include <pcre2.h>

#include "earshot/error.h"
#include "whisper/model/model.h"
#include "whisper/text/utf8_text.h"

namespace earshot::whisper {

namespace {

// GPT-2's pre-tokenizer pattern, the pat_str of both of Whisper's tiktoken encodings.
constexpr std::string_view kPretokenizerPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

struct Tokenizer::Splitter {
  struct CodeDeleter {
    void operator()(pcre2_code* compiled) const { pcre2_code_free(compiled); }
  };
  struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };

  Splitter() {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // UCP: \s, \p{..} use Unicode properties, as the Rust regex engine of tiktoken does.
    code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPretokenizerPattern.data()),
                             kPretokenizerPattern.size(), PCRE2_UTF | PCRE2_UCP, &error, &offset,
                             nullptr));
    if (!code) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error, message.data(), message.size());
      throw Error(ErrorCode::kInternal, std::string("cannot compile the pre-tokenizer pattern: ") +
                                            reinterpret_cast<const char*>(message.data()));
    }
    // JIT is an optimisation only: the interpreter gives identical matches when it is absent.
    jit = pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE) == 0;
  }

  // Calls `piece` for each pre-token of valid UTF-8 `text`, in order.
  template <typename F>
  void split(std::string_view text, F&& piece) const {
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(
        pcre2_match_data_create_from_pattern(code.get(), nullptr));
    if (!match) {
      throw Error(ErrorCode::kInternal, "out of memory in the tokenizer");
    }
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    PCRE2_SIZE start = 0;
    // The text was validated once; skip PCRE2's check on every call.
    std::uint32_t options = 0;
    while (start < text.size()) {
      const int rc =
          jit ? pcre2_jit_match(code.get(), subject, text.size(), start, options, match.get(),
                                nullptr)
              : pcre2_match(code.get(), subject, text.size(), start, options, match.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) {
        break;
      }
      if (rc < 0) {
        throw Error(ErrorCode::kInternal, "pre-tokenizer match failed");
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
      if (ov[1] <= ov[0]) {
        break;  // the pattern cannot match empty; guard against looping
      }
      piece(text.substr(ov[0], ov[1] - ov[0]));
      start = ov[1];
      options = PCRE2_NO_UTF_CHECK;
    }
  }

  std::unique_ptr<pcre2_code, CodeDeleter> code;
  bool jit = false;
};

Tokenizer::Tokenizer(std::vector<std::string> vocab, int n_vocab)
    : special_(SpecialTokens::for_vocab_size(n_vocab)),
      vocab_(std::move(vocab)),
      splitter_(std::make_unique<Splitter>()) {
  // Files that also store the special tokens' text keep it at ids >= eot; those ids' text
  // follows from the layout, and BPE must never produce them.
  if (vocab_.size() > static_cast<std::size_t>(special_.eot)) {
    vocab_.resize(static_cast<std::size_t>(special_.eot));
  }
  ranks_.reserve(vocab_.size());
  for (std::size_t i = 0; i < vocab_.size(); ++i) {
    // A duplicated byte string keeps its lowest rank, as a merge table would.
    ranks_.emplace(vocab_[i], static_cast<int>(i));
  }
}

Tokenizer Tokenizer::for_model(const Model& model) {
  return Tokenizer(model.vocab(), model.dims().n_vocab);
}

const Tokenizer& tokenizer_of(const Model& model) {
  return model.shared<Tokenizer>(
      [&model] { return std::make_unique<Tokenizer>(Tokenizer::for_model(model)); });
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int> Tokenizer::encode(std::string_view text) const {
  if (!is_valid_utf8(text)) {
    throw Error(ErrorCode::kInvalidArgument, "text to tokenize is not valid UTF-8");
  }
  std::vector<int> out;
  splitter_->split(text, [&](std::string_view piece) { append_piece_tokens(piece, out); });
  return out;
}

// tiktoken's byte_pair_merge: a piece that is itself a token is that token; otherwise start
// from single bytes and repeatedly merge the adjacent pair whose concatenation has the lowest
// rank (the leftmost one on a tie) until no adjacent pair is a token.
void Tokenizer::append_piece_tokens(std::string_view piece, std::vector<int>& out) const {
  if (auto it = ranks_.find(piece); it != ranks_.end()) {
    out.push_back(it->second);
    return;
  }
  constexpr int kNoRank = std::numeric_limits<int>::max();
  const auto rank_of = [&](std::size_t begin, std::size_t end) {
    auto it = ranks_.find(piece.substr(begin, end - begin));
    return it == ranks_.end() ? kNoRank : it->second;
  };
  // bounds[k] is where part k starts; the last entry is piece.size().
  std::vector<std::size_t> bounds(piece.size() + 1);
  for (std::size_t i = 0; i <= piece.size(); ++i) {
    bounds[i] = i;
  }
  // pair_rank[k]: rank of parts k and k+1 merged.
  std::vector<int> pair_rank(piece.size() > 1 ? piece.size() - 1 : 0);
  for (std::size_t k = 0; k < pair_rank.size(); ++k) {
    pair_rank[k] = rank_of(bounds[k], bounds[k + 2]);
  }

  while (!pair_rank.empty()) {
    const auto best = std::min_element(pair_rank.begin(), pair_rank.end());
    if (*best == kNoRank) {
      break;
    }
    const auto k = static_cast<std::size_t>(best - pair_rank.begin());
    bounds.erase(bounds.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    pair_rank.erase(pair_rank.begin() + static_cast<std::ptrdiff_t>(k));
    if (k < pair_rank.size()) {
      pair_rank[k] = rank_of(bounds[k], bounds[k + 2]);
    }
    if (k > 0) {
      pair_rank[k - 1] = rank_of(bounds[k - 1], bounds[k + 1]);
    }
  }
  for (std::size_t k = 0; k + 1 < bounds.size(); ++k) {
    const int rank = rank_of(bounds[k], bounds[k + 1]);
    if (rank == kNoRank) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the model's vocabulary has no token for a byte of the text");
    }
    out.push_back(rank);
  }
}

std::string Tokenizer::token_bytes(int id) const {
  if (id < 0 || id >= special_.n_vocab) {
    throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " out of range");
  }
  if (id >= special_.eot) {
    return special_.text(id);
  }
  // Ids below eot that the file did not store (test vocabularies may be short) have no bytes.
  if (static_cast<std::size_t>(id) >= vocab_.size()) {
    return {};
  }
  return vocab_[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decode_bytes(std::span<const int> ids, bool with_timestamps) const {
  std::string bytes;
  for (const int id : ids) {
    if (!with_timestamps && id >= special_.timestamp_begin && id < special_.n_vocab) {
      continue;
    }
    bytes += token_bytes(id);
  }
  return replace_invalid_utf8(bytes);
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  return decode_bytes(ids, false);
}

std::string Tokenizer::decode_with_timestamps(std::span<const int> ids) const {
  return decode_bytes(ids, true);
}

std::vector<int> Tokenizer::non_speech_tokens() const {
  // The symbol lists of OpenAI's tokenizer.py.
  std::vector<std::string> symbols;
  for (const char c : std::string_view("\"#()*+/:;<=>@[\\]^_`{|}~")) {
    symbols.emplace_back(1, c);
  }
  for (const char* s : {"「", "」", "『", "』"}) {
    symbols.emplace_back(s);
  }
  for (const char* s : {"<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('", "(\"",
                        "((", "))", "(((", ")))", "[[", "]]",  "{{", "}}", "♪♪", "♪♪♪"}) {
    symbols.emplace_back(s);
  }
  // U+2640..U+267F symbols share their first two UTF-8 bytes, so where one is split into
  // several tokens, suppressing its first token is safe.
  const std::vector<std::string> miscellaneous = {"♩", "♪", "♫", "♬", "♭", "♮", "♯"};

  std::set<int> result;
  // Hyphens and single quotes stay allowed between words, not at the beginning of one.
  result.insert(encode(" -").front());
  result.insert(encode(" '").front());
  const auto add = [&](const std::string& symbol, bool first_always) {
    for (const auto& text : {symbol, " " + symbol}) {
      const std::vector<int> tokens = encode(text);
      if (tokens.size() == 1 || (first_always && !tokens.empty())) {
        result.insert(tokens.front());
      }
    }
  };
  for (const auto& s : symbols) {
    add(s, false);
  }
  for (const auto& s : miscellaneous) {
    add(s, true);
  }
  return {result.begin(), result.end()};
}

}  // namespace earshot::whisper
