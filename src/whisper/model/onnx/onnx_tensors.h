#pragma once

// The named floating-point tensors of an ONNX model file, read with libprotobuf and the
// subset of ONNX's schema in onnx_subset.proto: the initializers and the Constant nodes'
// values of every graph, subgraphs (the branches of If, the bodies of Loop) included, as
// f32. This is what a model of our own needs from an exported network: its weights, by the
// names the exporter gave them. The graph's operators are not interpreted; the code that
// runs the network is ours.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::whisper::onnx {

class OnnxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OnnxTensor {
  std::string name;                // the tensor's own name, else the Constant node's output
  std::vector<std::int64_t> dims;  // shape, outermost first
  std::vector<float> values;       // row-major; f16 and f64 tensors converted to f32

  std::int64_t elements() const;
};

// The tensors that one graph holds itself (not those of its subgraphs).
struct OnnxGraph {
  std::string path;  // "main" for the model's graph, "main/If_0.then_branch" for a branch
  std::vector<OnnxTensor> tensors;

  // The tensor named `name`, else nullptr.
  const OnnxTensor* find(std::string_view name) const;
};

struct OnnxModel {
  std::int64_t ir_version = 0;
  std::string producer;
  std::vector<OnnxGraph> graphs;  // the main graph first, then its subgraphs, depth first
};

// Parses `bytes` as an ONNX ModelProto. Throws OnnxError on a file that is not one, or whose
// tensors keep their data in external files.
OnnxModel parse_onnx(std::string_view bytes);
// Reads and parses a file; OnnxError names it when it cannot be read or parsed.
OnnxModel read_onnx(const std::filesystem::path& path);

}  // namespace earshot::whisper::onnx
