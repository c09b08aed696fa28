#include "whisper/model/onnx/onnx_tensors.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>

#include "onnx_subset.pb.h"
#include "whisper/model/ggml_types.h"

namespace earshot::whisper::onnx {
namespace {

namespace pb = earshot::onnx_format;

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; this reader copies it as it is");

// Nested If/Loop graphs deeper than this are refused: a crafted file could otherwise
// recurse until the stack runs out.
constexpr int kMaxGraphDepth = 32;

template <typename T>
std::vector<T> raw_values(const std::string& raw, std::int64_t count, const std::string& name) {
  if (raw.size() != static_cast<std::size_t>(count) * sizeof(T)) {
    throw OnnxError("tensor '" + name + "' holds " + std::to_string(raw.size()) +
                    " bytes of data for " + std::to_string(count) + " values");
  }
  std::vector<T> out(static_cast<std::size_t>(count));
  if (count > 0) std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

// Reads a floating-point tensor into `out` as f32; false, leaving `out` alone, for tensors of
// other types (the integer shapes and indices of the graph, which are not weights).
bool to_tensor(const pb::TensorProto& t, const std::string& fallback_name, OnnxTensor& out) {
  const int type = t.data_type();
  if (type != pb::TensorProto::FLOAT && type != pb::TensorProto::FLOAT16 &&
      type != pb::TensorProto::DOUBLE) {
    return false;
  }
  out.name = t.name().empty() ? fallback_name : t.name();
  if (t.data_location() == 1) {
    throw OnnxError("tensor '" + out.name +
                    "' keeps its data in an external file, which earshot does not read");
  }
  out.dims.assign(t.dims().begin(), t.dims().end());
  std::int64_t count = 1;
  for (const auto d : out.dims) {
    if (d < 0 || (d > 0 && count > (std::int64_t{1} << 40) / d)) {
      throw OnnxError("tensor '" + out.name + "' has an invalid shape");
    }
    count *= d;
  }
  const bool raw = t.has_raw_data();
  if (type == pb::TensorProto::FLOAT) {
    if (raw) {
      out.values = raw_values<float>(t.raw_data(), count, out.name);
    } else {
      if (t.float_data_size() != count) {
        throw OnnxError("tensor '" + out.name + "' holds " + std::to_string(t.float_data_size()) +
                        " values for its shape of " + std::to_string(count));
      }
      out.values.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (type == pb::TensorProto::FLOAT16) {
    // Without raw_data ONNX stores binary16 values one per int32_data entry, which this
    // subset leaves out: such a tensor is refused rather than read as zeros.
    if (!raw) throw OnnxError("f16 tensor '" + out.name + "' without raw_data");
    const auto bits = raw_values<std::uint16_t>(t.raw_data(), count, out.name);
    out.values.resize(bits.size());
    for (std::size_t i = 0; i < bits.size(); ++i) out.values[i] = fp16_to_fp32(bits[i]);
  } else {
    std::vector<double> d;
    if (raw) {
      d = raw_values<double>(t.raw_data(), count, out.name);
    } else {
      if (t.double_data_size() != count) {
        throw OnnxError("tensor '" + out.name + "' holds too few values for its shape");
      }
      d.assign(t.double_data().begin(), t.double_data().end());
    }
    out.values.assign(d.begin(), d.end());
  }
  return true;
}

void collect(const pb::GraphProto& graph, const std::string& path, int depth, OnnxModel& model) {
  if (depth > kMaxGraphDepth) throw OnnxError("graphs nested deeper than the reader allows");
  const std::size_t index = model.graphs.size();
  model.graphs.push_back(OnnxGraph{path, {}});
  std::vector<OnnxTensor> tensors;
  for (const auto& init : graph.initializer()) {
    OnnxTensor t;
    if (to_tensor(init, init.name(), t)) tensors.push_back(std::move(t));
  }
  std::vector<std::pair<std::string, const pb::GraphProto*>> subgraphs;
  for (const auto& node : graph.node()) {
    const std::string node_name = node.name().empty() ? node.op_type() : node.name();
    for (const auto& attr : node.attribute()) {
      if (node.op_type() == "Constant" && attr.name() == "value" && attr.has_t()) {
        OnnxTensor t;
        const std::string output = node.output_size() > 0 ? node.output(0) : node_name;
        if (to_tensor(attr.t(), output, t)) tensors.push_back(std::move(t));
      }
      if (attr.has_g())
        subgraphs.emplace_back(path + "/" + node_name + "." + attr.name(), &attr.g());
      for (const auto& g : attr.graphs()) {
        subgraphs.emplace_back(path + "/" + node_name + "." + attr.name(), &g);
      }
    }
  }
  model.graphs[index].tensors = std::move(tensors);
  for (const auto& [sub_path, sub] : subgraphs) collect(*sub, sub_path, depth + 1, model);
}

}  // namespace

std::int64_t OnnxTensor::elements() const {
  return static_cast<std::int64_t>(values.size());
}

const OnnxTensor* OnnxGraph::find(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

OnnxModel parse_onnx(std::string_view bytes) {
  pb::ModelProto proto;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw OnnxError("not an ONNX model (the protobuf message does not parse)");
  }
  if (!proto.has_graph()) throw OnnxError("not an ONNX model (it holds no graph)");
  OnnxModel model;
  model.ir_version = proto.ir_version();
  model.producer = proto.producer_name();
  collect(proto.graph(), "main", 0, model);
  return model;
}

OnnxModel read_onnx(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OnnxError("cannot open " + path.string());
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw OnnxError("cannot read " + path.string());
  try {
    return parse_onnx(bytes);
  } catch (const OnnxError& e) {
    throw OnnxError(path.string() + ": " + e.what());
  }
}

}  // namespace earshot::whisper::onnx
