#pragma once

// Partial results that never have to be taken back: the LocalAgreement policy of
// whisper_streaming (Machacek, Dabre and Bojar, 2023). The growing utterance is decoded again
// and again; a word is given out once two successive hypotheses agree on it and on every
// word before it. The utterance's final decode gives the rest.

#include <string>
#include <string_view>
#include <vector>

namespace earshot::server {

class LocalAgreement {
 public:
  // A new hypothesis of the whole utterance so far; returns the text newly agreed on (empty
  // when nothing new is), to be sent as a delta.
  std::string update(std::string_view hypothesis);
  // The final text: returns what it adds after the words already given out (which stay as
  // they were given, whatever the final decode says of them).
  std::string finish(std::string_view final_text);
  // Everything given out so far: the concatenation of the deltas.
  const std::string& given() const { return given_; }

 private:
  std::string take(const std::vector<std::string>& words, std::size_t end);

  std::vector<std::string> previous_;
  std::size_t given_words_ = 0;
  std::string given_;
};

// Words of a text with the spaces before them (" Hello", " world,"), the first word's leading
// spaces dropped.
std::vector<std::string> split_words(std::string_view text);

}  // namespace earshot::server
