// The ggml model file: header, hyperparameters, mel filters, vocabulary and tensor table,
// parsed from memory as load_model does after mapping the file.

#include <cstdint>
#include <span>

#include "earshot/error.h"
#include "whisper/model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto model =
        earshot::whisper::parse_model(std::span<const std::uint8_t>(data, size), "fuzz.bin");
    if (model == nullptr) __builtin_trap();
  } catch (const earshot::Error& e) {
    if (e.code() != earshot::ErrorCode::kModelFormat) __builtin_trap();
  }
  return 0;
}
