#pragma once

// The loaded model (the public API's opaque earshot::Model). Immutable after load and shared
// read-only by any number of WhisperStates.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "earshot/whisper.h"

namespace earshot {

class Model {
 public:
  const ModelDims& dims() const { return dims_; }
  bool multilingual() const { return dims_.n_vocab >= 51865; }
  // The file's mel filter bank, band-major [n_mels x 201].
  const std::vector<float>& mel_filters() const { return mel_filters_; }
  // Raw bytes of each stored token; entry i is token id i (special tokens are not stored).
  const std::vector<std::string>& vocab() const { return vocab_; }

  // Weights (engine-owned layout; see model.cpp) follow here.

 private:
  ModelDims dims_;
  std::vector<float> mel_filters_;
  std::vector<std::string> vocab_;
};

}  // namespace earshot
