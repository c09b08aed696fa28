#include "whisper/transcribe/word_timing.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "whisper/features/timeline.h"
#include "whisper/text/utf8_text.h"

namespace earshot::whisper {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
// Python's string.punctuation.
constexpr std::string_view kAsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
// transcribe.py's `punctuation`, the words is_segment_anomaly() ignores.
constexpr std::string_view kAnomalyPunctuation =
    "\"'\u201c\u00bf([{-\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001";
constexpr std::string_view kSentenceEndMarks = ".\u3002!\uff01?\uff1f";

// Python's `a in b` for strings: substring test, true for the empty string. On valid UTF-8 a
// byte match is a character match.
bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Number of code points in valid UTF-8 (continuation bytes are 10xxxxxx).
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The byte offset of code point `index` in valid UTF-8 (s.size() past the end).
std::size_t byte_offset(std::string_view s, std::size_t index) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == index) {
        return i;
      }
      ++seen;
    }
  }
  return s.size();
}

bool starts_with_space(std::string_view s) {
  return !s.empty() && s.front() == ' ';
}
bool ends_with_space(std::string_view s) {
  return !s.empty() && s.back() == ' ';
}

// Python's round(x, 2) for the values here (sums of multiples of 0.01 and 0.02).
double round2(double x) {
  return std::nearbyint(x * 100.0) / 100.0;
}

}  // namespace

void median_filter(std::vector<float>& x, std::size_t rows, std::size_t cols, int width) {
  const auto pad = static_cast<std::size_t>(width / 2);
  if (cols <= pad) {
    return;
  }
  std::vector<float> padded(cols + 2 * pad);
  std::vector<float> window(static_cast<std::size_t>(width));
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * cols;
    for (std::size_t i = 0; i < padded.size(); ++i) {
      // Reflect without repeating the edge: index -1 reads 1, index cols reads cols - 2.
      const auto j = static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(pad);
      const auto n = static_cast<std::ptrdiff_t>(cols);
      const std::ptrdiff_t k = j < 0 ? -j : (j >= n ? 2 * (n - 1) - j : j);
      padded[i] = row[k];
    }
    for (std::size_t c = 0; c < cols; ++c) {
      std::copy_n(padded.begin() + static_cast<std::ptrdiff_t>(c), width, window.begin());
      std::nth_element(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(pad),
                       window.end());
      row[c] = window[pad];
    }
  }
}

DtwPath dtw(std::span<const double> x, std::size_t rows, std::size_t cols) {
  // The reference keeps the cost in float32 (np.float32 arrays) and the trace as 0/1/2.
  const std::size_t w = cols + 1;
  std::vector<float> cost((rows + 1) * w, std::numeric_limits<float>::infinity());
  std::vector<signed char> trace((rows + 1) * w, -1);
  cost[0] = 0.0f;
  for (std::size_t j = 1; j <= cols; ++j) {
    for (std::size_t i = 1; i <= rows; ++i) {
      const float c0 = cost[(i - 1) * w + j - 1];
      const float c1 = cost[(i - 1) * w + j];
      const float c2 = cost[i * w + j - 1];
      float c = c2;
      signed char t = 2;
      if (c0 < c1 && c0 < c2) {
        c = c0;
        t = 0;
      } else if (c1 < c0 && c1 < c2) {
        c = c1;
        t = 1;
      }
      cost[i * w + j] = static_cast<float>(x[(i - 1) * cols + j - 1] + static_cast<double>(c));
      trace[i * w + j] = t;
    }
  }
  for (std::size_t j = 0; j <= cols; ++j) {
    trace[j] = 2;
  }
  for (std::size_t i = 0; i <= rows; ++i) {
    trace[i * w] = 1;
  }
  DtwPath path;
  std::size_t i = rows;
  std::size_t j = cols;
  while (i > 0 || j > 0) {
    path.text_indices.push_back(static_cast<int>(i) - 1);
    path.time_indices.push_back(static_cast<int>(j) - 1);
    const signed char t = trace[i * w + j];
    if (t == 0) {
      --i;
      --j;
    } else if (t == 1) {
      --i;
    } else {
      --j;
    }
  }
  std::reverse(path.text_indices.begin(), path.text_indices.end());
  std::reverse(path.time_indices.begin(), path.time_indices.end());
  return path;
}

namespace {

WordTokens split_on_unicode(const Tokenizer& tokenizer, std::span<const int> tokens) {
  const std::string full = tokenizer.decode_with_timestamps(tokens);
  WordTokens out;
  std::vector<int> current;
  std::size_t offset = 0;  // in code points, as Python indexes str
  for (const int token : tokens) {
    current.push_back(token);
    const std::string decoded = tokenizer.decode_with_timestamps(current);
    const std::size_t bad = decoded.find(kReplacementChar);
    bool complete = bad == std::string::npos;
    if (!complete) {
      // A U+FFFD that the whole text has too is a real one, not a split character.
      const std::size_t at =
          byte_offset(full, offset + code_points(std::string_view(decoded).substr(0, bad)));
      complete = std::string_view(full).substr(at, kReplacementChar.size()) == kReplacementChar;
    }
    if (complete) {
      offset += code_points(decoded);
      out.words.push_back(decoded);
      out.tokens.push_back(std::move(current));
      current.clear();
    }
  }
  return out;
}

}  // namespace

WordTokens split_to_word_tokens(const Tokenizer& tokenizer, std::span<const int> tokens,
                                std::string_view language) {
  WordTokens subwords = split_on_unicode(tokenizer, tokens);
  if (language == "zh" || language == "ja" || language == "th" || language == "lo" ||
      language == "my" || language == "yue") {
    return subwords;
  }
  WordTokens out;
  for (std::size_t i = 0; i < subwords.words.size(); ++i) {
    const std::string& subword = subwords.words[i];
    const bool special = subwords.tokens[i].front() >= tokenizer.special().eot;
    const bool punctuation = contains(kAsciiPunctuation, strip_whitespace(subword));
    if (special || starts_with_space(subword) || punctuation || out.words.empty()) {
      out.words.push_back(subword);
      out.tokens.push_back(subwords.tokens[i]);
    } else {
      out.words.back() += subword;
      out.tokens.back().insert(out.tokens.back().end(), subwords.tokens[i].begin(),
                               subwords.tokens[i].end());
    }
  }
  return out;
}

std::vector<WordTiming> find_alignment(const WindowLogitsSource::AlignmentPass& pass,
                                       const Tokenizer& tokenizer, std::span<const int> text_tokens,
                                       int n_sot, int num_frames, std::string_view language,
                                       int medfilt_width) {
  if (text_tokens.empty() || pass.n_heads == 0) {
    return {};
  }
  const auto n_tok = static_cast<std::size_t>(pass.n_tokens);
  const auto heads = static_cast<std::size_t>(pass.n_heads);
  const auto all_frames = static_cast<std::size_t>(pass.n_frames);
  const std::size_t frames = std::min(all_frames, static_cast<std::size_t>(num_frames / 2));
  if (frames == 0) {
    return {};
  }
  const int eot = tokenizer.special().eot;

  // Token probabilities from the same pass: row n_sot (<|notimestamps|>) predicts the first
  // text token; softmax over the ordinary tokens only.
  const auto n_vocab = pass.logits.size() / n_tok;
  std::vector<double> text_token_probs;
  for (std::size_t i = 0; i < text_tokens.size(); ++i) {
    const float* row = pass.logits.data() + (static_cast<std::size_t>(n_sot) + i) * n_vocab;
    const float max = *std::max_element(row, row + eot);
    double sum = 0.0;
    for (int t = 0; t < eot; ++t) {
      sum += std::exp(static_cast<double>(row[t]) - max);
    }
    text_token_probs.push_back(
        static_cast<float>(std::exp(static_cast<double>(row[text_tokens[i]]) - max) / sum));
  }

  // weights[h][t][f]: softmax over the real audio's frames, then standardised over tokens
  // per frame, then median-filtered along frames.
  std::vector<float> matrix(n_tok * frames, 0.0f);
  std::vector<float> weights(n_tok * frames);
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t t = 0; t < n_tok; ++t) {
      const float* in = pass.scores.data() + (h * n_tok + t) * all_frames;
      float* out = weights.data() + t * frames;
      const float max = *std::max_element(in, in + frames);
      double sum = 0.0;
      for (std::size_t f = 0; f < frames; ++f) {
        sum += std::exp(static_cast<double>(in[f]) - max);
      }
      for (std::size_t f = 0; f < frames; ++f) {
        out[f] = static_cast<float>(std::exp(static_cast<double>(in[f]) - max) / sum);
      }
    }
    for (std::size_t f = 0; f < frames; ++f) {
      double mean = 0.0;
      for (std::size_t t = 0; t < n_tok; ++t) {
        mean += weights[t * frames + f];
      }
      mean /= static_cast<double>(n_tok);
      double var = 0.0;
      for (std::size_t t = 0; t < n_tok; ++t) {
        const double dev = weights[t * frames + f] - mean;
        var += dev * dev;
      }
      const auto std_dev = static_cast<float>(std::sqrt(var / static_cast<double>(n_tok)));
      for (std::size_t t = 0; t < n_tok; ++t) {
        float& v = weights[t * frames + f];
        v = (v - static_cast<float>(mean)) / std_dev;
      }
    }
    median_filter(weights, n_tok, frames, medfilt_width);
    for (std::size_t i = 0; i < matrix.size(); ++i) {
      matrix[i] += weights[i];
    }
  }
  // Rows from <|notimestamps|> to the last text token (sot sequence and eot rows dropped).
  const auto first_row = static_cast<std::size_t>(n_sot);
  const std::size_t rows = n_tok - 1 - first_row;
  std::vector<double> cost(rows * frames);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t f = 0; f < frames; ++f) {
      const float mean = matrix[(first_row + r) * frames + f] / static_cast<float>(heads);
      cost[r * frames + f] = -static_cast<double>(mean);
    }
  }
  const DtwPath path = dtw(cost, rows, frames);

  std::vector<int> with_eot(text_tokens.begin(), text_tokens.end());
  with_eot.push_back(eot);
  const WordTokens words = split_to_word_tokens(tokenizer, with_eot, language);
  if (words.tokens.size() <= 1) {
    return {};
  }
  // jump_times[k]: when the path first reaches row k.
  std::vector<double> jump_times;
  for (std::size_t i = 0; i < path.text_indices.size(); ++i) {
    if (i == 0 || path.text_indices[i] != path.text_indices[i - 1]) {
      jump_times.push_back(path.time_indices[i] / kTokensPerSecond);
    }
  }
  std::vector<WordTiming> out;
  std::size_t boundary = 0;
  for (std::size_t w = 0; w + 1 < words.tokens.size(); ++w) {
    const std::size_t next = boundary + words.tokens[w].size();
    WordTiming timing;
    timing.word = words.words[w];
    timing.tokens = words.tokens[w];
    timing.start = jump_times.at(boundary);
    timing.end = jump_times.at(next);
    double sum = 0.0;
    for (std::size_t i = boundary; i < next; ++i) {
      sum += text_token_probs[i];
    }
    timing.probability = sum / static_cast<double>(next - boundary);
    out.push_back(std::move(timing));
    boundary = next;
  }
  return out;
}

void merge_punctuations(std::vector<WordTiming>& alignment, std::string_view prepended,
                        std::string_view appended) {
  if (alignment.size() >= 2) {
    auto i = static_cast<std::ptrdiff_t>(alignment.size()) - 2;
    auto j = static_cast<std::ptrdiff_t>(alignment.size()) - 1;
    for (; i >= 0; --i) {
      WordTiming& previous = alignment[static_cast<std::size_t>(i)];
      WordTiming& following = alignment[static_cast<std::size_t>(j)];
      if (starts_with_space(previous.word) &&
          contains(prepended, strip_whitespace(previous.word))) {
        following.word = previous.word + following.word;
        previous.tokens.insert(previous.tokens.end(), following.tokens.begin(),
                               following.tokens.end());
        following.tokens = std::move(previous.tokens);
        previous.word.clear();
        previous.tokens.clear();
      } else {
        j = i;
      }
    }
  }
  std::size_t i = 0;
  for (std::size_t j = 1; j < alignment.size(); ++j) {
    WordTiming& previous = alignment[i];
    WordTiming& following = alignment[j];
    if (!ends_with_space(previous.word) && contains(appended, following.word)) {
      previous.word += following.word;
      previous.tokens.insert(previous.tokens.end(), following.tokens.begin(),
                             following.tokens.end());
      following.word.clear();
      following.tokens.clear();
    } else {
      i = j;
    }
  }
}

void add_word_timestamps(std::vector<Segment>& segments, WindowLogitsSource& source,
                         const Tokenizer& tokenizer, std::span<const int> sot_sequence,
                         int num_frames, const TranscribeOptions& options,
                         std::string_view language, double last_speech_timestamp) {
  if (segments.empty()) {
    return;
  }
  const SpecialTokens& sp = tokenizer.special();
  std::vector<std::vector<int>> text_tokens_per_segment;
  std::vector<int> text_tokens;
  for (const Segment& segment : segments) {
    std::vector<int> text;
    for (const int t : segment.tokens) {
      if (t < sp.eot) {
        text.push_back(t);
      }
    }
    text_tokens.insert(text_tokens.end(), text.begin(), text.end());
    text_tokens_per_segment.push_back(std::move(text));
  }

  std::vector<WordTiming> alignment;
  if (!text_tokens.empty()) {
    std::vector<int> tokens(sot_sequence.begin(), sot_sequence.end());
    tokens.push_back(sp.no_timestamps);
    tokens.insert(tokens.end(), text_tokens.begin(), text_tokens.end());
    tokens.push_back(sp.eot);
    const auto pass = source.alignment_pass(tokens);
    alignment = find_alignment(pass, tokenizer, text_tokens, static_cast<int>(sot_sequence.size()),
                               num_frames, language);
  }

  std::vector<double> durations;
  for (const WordTiming& t : alignment) {
    if (t.end - t.start != 0.0) {
      durations.push_back(t.end - t.start);
    }
  }
  double median_duration = 0.0;
  if (!durations.empty()) {
    std::sort(durations.begin(), durations.end());
    const std::size_t n = durations.size();
    median_duration =
        n % 2 == 1 ? durations[n / 2] : (durations[n / 2 - 1] + durations[n / 2]) / 2.0;
  }
  median_duration = std::min(0.7, median_duration);
  const double max_duration = median_duration * 2;

  // Words at sentence boundaries no longer than twice the median word (the reference's hack).
  if (!durations.empty()) {
    for (std::size_t i = 1; i < alignment.size(); ++i) {
      if (alignment[i].end - alignment[i].start > max_duration) {
        if (contains(kSentenceEndMarks, alignment[i].word)) {
          alignment[i].end = alignment[i].start + max_duration;
        } else if (contains(kSentenceEndMarks, alignment[i - 1].word)) {
          alignment[i].start = alignment[i].end - max_duration;
        }
      }
    }
  }
  merge_punctuations(alignment, options.prepend_punctuations, options.append_punctuations);

  const double time_offset = frames_to_seconds(segments.front().seek);
  std::size_t word_index = 0;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    Segment& segment = segments[s];
    std::size_t saved_tokens = 0;
    std::vector<Word> words;
    while (word_index < alignment.size() && saved_tokens < text_tokens_per_segment[s].size()) {
      const WordTiming& timing = alignment[word_index];
      if (!timing.word.empty()) {
        words.push_back({round2(time_offset + timing.start), round2(time_offset + timing.end),
                         timing.word, timing.probability});
      }
      saved_tokens += timing.tokens.size();
      ++word_index;
    }
    if (!words.empty()) {
      // The first and second word after a pause no longer than twice the median word.
      if (words[0].end - last_speech_timestamp > median_duration * 4 &&
          (words[0].end - words[0].start > max_duration ||
           (words.size() > 1 && words[1].end - words[0].start > max_duration * 2))) {
        if (words.size() > 1 && words[1].end - words[1].start > max_duration) {
          const double boundary = std::max(words[1].end / 2, words[1].end - max_duration);
          words[0].end = words[1].start = boundary;
        }
        words[0].start = std::max(0.0, words[0].end - max_duration);
      }
      // Prefer the segment's start if the first word is too long.
      if (segment.start < words[0].end && segment.start - 0.5 > words[0].start) {
        words[0].start = std::max(0.0, std::min(words[0].end - median_duration, segment.start));
      } else {
        segment.start = words[0].start;
      }
      // Prefer the segment's end if the last word is too long.
      if (segment.end > words.back().start && segment.end + 0.5 < words.back().end) {
        words.back().end = std::max(words.back().start + median_duration, segment.end);
      } else {
        segment.end = words.back().end;
      }
      last_speech_timestamp = segment.end;
    }
    segment.words = std::move(words);
  }
}

double word_anomaly_score(const Word& word) {
  const double duration = word.end - word.start;
  double score = 0.0;
  if (word.probability < 0.15) {
    score += 1.0;
  }
  if (duration < 0.133) {
    score += (0.133 - duration) * 15;
  }
  if (duration > 2.0) {
    score += duration - 2.0;
  }
  return score;
}

bool is_segment_anomaly(const Segment* segment) {
  if (segment == nullptr || segment->words.empty()) {
    return false;
  }
  double score = 0.0;
  std::size_t counted = 0;
  for (const Word& w : segment->words) {
    if (contains(kAnomalyPunctuation, w.word)) {
      continue;
    }
    if (counted == 8) {
      break;
    }
    score += word_anomaly_score(w);
    ++counted;
  }
  return score >= 3 || score + 0.01 >= static_cast<double>(counted);
}

}  // namespace earshot::whisper
