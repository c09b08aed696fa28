#pragma once

// Word-level timestamps as OpenAI's timing.py computes them: the alignment heads'
// cross-attention weights over a teacher-forced pass of the window's text, normalised and
// median-filtered, a DTW path through tokens x audio frames, words split at spaces (or at
// character boundaries for languages without spaces), punctuation merged into neighbours.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "earshot/whisper.h"
#include "whisper/decoding/decoding.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {

// timing.py's TOKENS_PER_SECOND: 50 encoder positions per second.
inline constexpr double kTokensPerSecond = 50.0;

struct WordTiming {
  std::string word;
  std::vector<int> tokens;
  double start = 0;  // seconds from the window start
  double end = 0;
  double probability = 0;
};

// Median of each `width`-wide neighbourhood along the rows of `x` ([rows x cols]), with
// reflect padding at the ends (timing.py's median_filter); unchanged when cols <= width / 2.
void median_filter(std::vector<float>& x, std::size_t rows, std::size_t cols, int width);

// Dynamic time warping over cost x [rows x cols] from (0, 0) to (rows-1, cols-1), steps
// diagonal, down (next text index) or right (next frame); ties prefer right, then down, as
// timing.py's dtw_cpu. The path as parallel index lists, first cell first.
struct DtwPath {
  std::vector<int> text_indices;
  std::vector<int> time_indices;
};
DtwPath dtw(std::span<const double> x, std::size_t rows, std::size_t cols);

// Tokenizer.split_to_word_tokens: at spaces and punctuation, or at every complete character
// for zh, ja, th, lo, my and yue.
struct WordTokens {
  std::vector<std::string> words;
  std::vector<std::vector<int>> tokens;
};
WordTokens split_to_word_tokens(const Tokenizer& tokenizer, std::span<const int> tokens,
                                std::string_view language);

// find_alignment() given the alignment pass over [sot sequence, <|notimestamps|>, text, eot]
// (`n_sot` tokens of sot sequence), for `num_frames` mel frames of real audio.
std::vector<WordTiming> find_alignment(const WindowLogitsSource::AlignmentPass& pass,
                                       const Tokenizer& tokenizer, std::span<const int> text_tokens,
                                       int n_sot, int num_frames, std::string_view language,
                                       int medfilt_width = 7);

// merge_punctuations(): a word of `prepended` punctuation joins the next word, one of
// `appended` the previous word, leaving an empty word behind.
void merge_punctuations(std::vector<WordTiming>& alignment, std::string_view prepended,
                        std::string_view appended);

// add_word_timestamps() for one window's segments (times absolute, tokens not yet cleared):
// runs the alignment pass through `source` (which holds the window) and fills each
// segment's words, adjusting segment starts and ends as the reference does.
void add_word_timestamps(std::vector<Segment>& segments, WindowLogitsSource& source,
                         const Tokenizer& tokenizer, std::span<const int> sot_sequence,
                         int num_frames, const TranscribeOptions& options,
                         std::string_view language, double last_speech_timestamp);

// transcribe.py's hallucination heuristics: a word scores for being improbable (< 0.15),
// very short (< 0.133 s) or very long (> 2 s); a segment is anomalous when its first 8
// non-punctuation words score >= 3, or about one per word. nullptr or no words: not anomalous.
double word_anomaly_score(const Word& word);
bool is_segment_anomaly(const Segment* segment);

}  // namespace earshot::whisper
