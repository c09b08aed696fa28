#include "whisper/features/silero/silero_model.h"

#include <string_view>

#include "whisper/model/onnx/onnx_tensors.h"

namespace earshot::whisper::silero {
namespace {

using onnx::OnnxGraph;
using onnx::OnnxTensor;

constexpr std::string_view kBasisName = "stft.forward_basis_buffer";

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

class GraphReader {
 public:
  GraphReader(const OnnxGraph& graph, const std::string& source) : graph_(graph), source_(source) {}

  std::vector<float> take(std::string_view name, const std::vector<std::int64_t>& dims) const {
    const OnnxTensor* t = graph_.find(name);
    if (t == nullptr) {
      throw SileroModelError(source_ + ": no tensor '" + std::string(name) +
                             "' in the 16 kHz network");
    }
    if (t->dims != dims) {
      throw SileroModelError(source_ + ": tensor '" + std::string(name) + "' is " +
                             shape_text(t->dims) + ", not " + shape_text(dims));
    }
    return t->values;
  }

  ConvLayer conv(int index, int in, int out, int stride) const {
    const std::string prefix = "encoder." + std::to_string(index) + ".reparam_conv.";
    ConvLayer layer;
    layer.in = in;
    layer.out = out;
    layer.kernel = 3;
    layer.stride = stride;
    layer.weight = take(prefix + "weight", {out, in, 3});
    layer.bias = take(prefix + "bias", {out});
    return layer;
  }

 private:
  const OnnxGraph& graph_;
  const std::string& source_;
};

}  // namespace

std::shared_ptr<const SileroModel> load_silero_model(const std::filesystem::path& path) {
  const std::string source = path.string();
  onnx::OnnxModel file;
  try {
    file = onnx::read_onnx(path);
  } catch (const onnx::OnnxError& e) {
    throw SileroModelError(e.what());
  }
  const OnnxGraph* graph = nullptr;
  for (const auto& g : file.graphs) {
    const OnnxTensor* basis = g.find(kBasisName);
    if (basis != nullptr && basis->dims == std::vector<std::int64_t>{2 * kStftBins, 1, kStftTaps}) {
      graph = &g;
      break;
    }
  }
  if (graph == nullptr) {
    throw SileroModelError(source +
                           ": not a Silero VAD v5 model with a 16 kHz network (no tensor '" +
                           std::string(kBasisName) + "' of shape [258, 1, 256])");
  }
  const GraphReader reader(*graph, source);
  auto model = std::make_shared<SileroModel>();
  model->source = source;
  model->stft_basis = reader.take(kBasisName, {2 * kStftBins, 1, kStftTaps});
  model->encoder[0] = reader.conv(0, kStftBins, 128, 1);
  model->encoder[1] = reader.conv(1, 128, 64, 2);
  model->encoder[2] = reader.conv(2, 64, 64, 2);
  model->encoder[3] = reader.conv(3, 64, kHidden, 1);
  model->lstm_w_ih = reader.take("decoder.rnn.weight_ih", {4 * kHidden, kHidden});
  model->lstm_w_hh = reader.take("decoder.rnn.weight_hh", {4 * kHidden, kHidden});
  model->lstm_b_ih = reader.take("decoder.rnn.bias_ih", {4 * kHidden});
  model->lstm_b_hh = reader.take("decoder.rnn.bias_hh", {4 * kHidden});
  model->out_weight = reader.take("decoder.decoder.2.weight", {1, kHidden, 1});
  model->out_bias = reader.take("decoder.decoder.2.bias", {1})[0];
  return model;
}

}  // namespace earshot::whisper::silero
