#pragma once

// The cross-attention heads whose weights follow the alignment of text to audio, used for
// word timestamps (timing.py). OpenAI publishes one boolean mask per official model,
// n_text_layer x n_text_head, gzip-compressed and base85-encoded (whisper/__init__.py,
// _ALIGNMENT_HEADS); they are decoded here at first use.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "earshot/whisper.h"

namespace earshot::whisper {

// (layer, head) pairs, layer-major as the reference's alignment_heads.indices().T.
using AlignmentHeads = std::vector<std::pair<int, int>>;

// The published heads of the official model these dimensions belong to (tiny .. large-v3,
// turbo; English-only variants told apart by n_vocab 51864, large-v3 by 51866; large-v1 and v2
// share dimensions and vocabulary, so such a model gets v2's heads). Any other model gets the
// reference's default: every head of the upper half of the decoder layers.
AlignmentHeads alignment_heads(const ModelDims& dims);

// The official model's name for these dimensions ("base.en", "large-v3-turbo"), if any.
std::optional<std::string_view> official_model_name(const ModelDims& dims);

// Python's base64.b85decode (RFC 1924 alphabet). Throws Error(kInvalidArgument) on a
// character outside the alphabet.
std::string base85_decode(std::string_view text);

// The mask as the reference stores it, decoded: gzip(base85) -> one byte per (layer, head).
// Throws Error(kInternal) when it does not inflate to layers * heads bytes.
AlignmentHeads decode_alignment_mask(std::string_view base85, int layers, int heads);

}  // namespace earshot::whisper
