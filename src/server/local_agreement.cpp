#include "server/local_agreement.h"

#include <algorithm>

namespace earshot::server {

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
  while (at < text.size()) {
    std::size_t end = at;
    while (end < text.size() && (text[end] == ' ' || text[end] == '\n')) ++end;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') ++end;
    words.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

std::string LocalAgreement::take(const std::vector<std::string>& words, std::size_t end) {
  std::string delta;
  for (std::size_t i = given_words_; i < end; ++i) {
    std::string w = words[i];
    if (given_.empty() && delta.empty()) {
      w.erase(0, w.find_first_not_of(' '));
    }
    delta += w;
  }
  given_words_ = std::max(given_words_, end);
  given_ += delta;
  return delta;
}

std::string LocalAgreement::update(std::string_view hypothesis) {
  std::vector<std::string> words = split_words(hypothesis);
  // Agreement is counted from the start: a word is agreed when it and all before it match.
  std::size_t agreed = 0;
  while (agreed < words.size() && agreed < previous_.size() && words[agreed] == previous_[agreed]) {
    ++agreed;
  }
  std::string delta = agreed > given_words_ ? take(words, agreed) : "";
  previous_ = std::move(words);
  return delta;
}

std::string LocalAgreement::finish(std::string_view final_text) {
  const std::vector<std::string> words = split_words(final_text);
  std::string delta = words.size() > given_words_ ? take(words, words.size()) : "";
  previous_.clear();
  return delta;
}

}  // namespace earshot::server
