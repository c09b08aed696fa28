// ONNX files (a VAD model a user points the server at): parse_onnx must return a model or
// throw OnnxError, never anything else; every tensor it returns holds as many values as its
// shape says.

#include <cstdint>
#include <string_view>

#include "whisper/model/onnx/onnx_tensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto model = earshot::whisper::onnx::parse_onnx(
        std::string_view(reinterpret_cast<const char*>(data), size));
    for (const auto& graph : model.graphs) {
      for (const auto& t : graph.tensors) {
        std::int64_t n = 1;
        for (const auto d : t.dims) n *= d;
        if (n != t.elements()) __builtin_trap();
      }
    }
  } catch (const earshot::whisper::onnx::OnnxError&) {
  }
  return 0;
}
