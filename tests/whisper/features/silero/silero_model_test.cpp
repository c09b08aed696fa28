// The Silero loader and network on a model of our own: random weights in the official file's
// layout (the 16 kHz network's tensors as Constant nodes in one branch of an If, an 8 kHz
// network in the other), written with the same ONNX schema subset, and a plain
// double-precision implementation of the network to compare with.

#include "whisper/features/silero/silero_model.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "onnx_subset.pb.h"
#include "testing/paths.h"
#include "whisper/features/silero/silero_vad.h"
#include "whisper/model/onnx/onnx_tensors.h"

namespace earshot::whisper::silero {
namespace {

namespace pb = earshot::onnx_format;

struct Tensor {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> values;
};

std::vector<Tensor> random_network(int basis_rows, int taps, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  const auto make = [&](std::string name, std::vector<std::int64_t> dims, float scale) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    Tensor t{std::move(name), std::move(dims), std::vector<float>(static_cast<std::size_t>(n))};
    for (float& v : t.values) v = scale * normal(rng);
    return t;
  };
  const int bins = basis_rows / 2;
  return {
      make("stft.forward_basis_buffer", {basis_rows, 1, taps}, 0.1F),
      make("encoder.0.reparam_conv.weight", {128, bins, 3}, 0.1F),
      make("encoder.0.reparam_conv.bias", {128}, 0.1F),
      make("encoder.1.reparam_conv.weight", {64, 128, 3}, 0.1F),
      make("encoder.1.reparam_conv.bias", {64}, 0.1F),
      make("encoder.2.reparam_conv.weight", {64, 64, 3}, 0.1F),
      make("encoder.2.reparam_conv.bias", {64}, 0.1F),
      make("encoder.3.reparam_conv.weight", {128, 64, 3}, 0.1F),
      make("encoder.3.reparam_conv.bias", {128}, 0.1F),
      make("decoder.rnn.weight_ih", {512, 128}, 0.1F),
      make("decoder.rnn.weight_hh", {512, 128}, 0.1F),
      make("decoder.rnn.bias_ih", {512}, 0.1F),
      make("decoder.rnn.bias_hh", {512}, 0.1F),
      make("decoder.decoder.2.weight", {1, 128, 1}, 0.3F),
      make("decoder.decoder.2.bias", {1}, 0.1F),
  };
}

void add_constant(pb::GraphProto& g, const Tensor& t, bool as_f16_raw) {
  auto* node = g.add_node();
  node->set_op_type("Constant");
  node->add_output("branch__" + t.name);
  auto* attr = node->add_attribute();
  attr->set_name("value");
  auto* tensor = attr->mutable_t();
  tensor->set_name(t.name);
  for (auto d : t.dims) tensor->add_dims(d);
  if (as_f16_raw) {
    tensor->set_data_type(pb::TensorProto::FLOAT16);
    std::string raw(t.values.size() * 2, '\0');
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      const _Float16 h = static_cast<_Float16>(t.values[i]);
      std::memcpy(raw.data() + 2 * i, &h, 2);
    }
    tensor->set_raw_data(raw);
  } else {
    tensor->set_data_type(pb::TensorProto::FLOAT);
    tensor->set_raw_data(std::string(reinterpret_cast<const char*>(t.values.data()),
                                     t.values.size() * sizeof(float)));
  }
}

// An ONNX file shaped as the official one: main graph { Constant sr; If(then: 16 kHz network,
// else: 8 kHz network) }.
std::string onnx_bytes(const std::vector<Tensor>& net16, const std::vector<Tensor>& net8,
                       const std::string& drop = "") {
  pb::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("earshot-test");
  auto* graph = model.mutable_graph();
  graph->set_name("main");
  auto* sr = graph->add_node();
  sr->set_op_type("Constant");
  sr->add_output("sr16000");
  auto* sr_value = sr->add_attribute();
  sr_value->set_name("value");
  sr_value->mutable_t()->set_data_type(7);  // int64: not a weight, skipped
  auto* branch = graph->add_node();
  branch->set_op_type("If");
  branch->set_name("If_0");
  auto* else_attr = branch->add_attribute();
  else_attr->set_name("else_branch");
  for (const auto& t : net8) add_constant(*else_attr->mutable_g(), t, false);
  auto* then_attr = branch->add_attribute();
  then_attr->set_name("then_branch");
  for (const auto& t : net16) {
    if (t.name != drop) add_constant(*then_attr->mutable_g(), t, false);
  }
  return model.SerializeAsString();
}

std::filesystem::path write_file(const std::string& name, const std::string& bytes) {
  const auto dir = testing::binary_dir() / "test-tmp" / "silero-model";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
  return dir / name;
}

const std::vector<float>& values(const std::vector<Tensor>& net, const std::string& name) {
  for (const auto& t : net) {
    if (t.name == name) return t.values;
  }
  throw std::runtime_error(name);
}

// The network as its PyTorch definition computes it, in doubles, one chunk at a time.
class PlainSilero {
 public:
  explicit PlainSilero(const std::vector<Tensor>& net) : net_(net) {}

  double process(const std::vector<float>& chunk) {
    std::vector<double> x(context_.begin(), context_.end());
    x.insert(x.end(), chunk.begin(), chunk.end());
    for (int j = 0; j < 64; ++j) x.push_back(x[574 - j]);  // reflect
    const auto& basis = values(net_, "stft.forward_basis_buffer");
    std::vector<std::vector<double>> act(129, std::vector<double>(4));  // [channel][frame]
    for (int f = 0; f < 4; ++f) {
      for (int b = 0; b < 129; ++b) {
        double re = 0, im = 0;
        for (int k = 0; k < 256; ++k) {
          re += basis[static_cast<std::size_t>(b) * 256 + k] * x[128 * f + k];
          im += basis[static_cast<std::size_t>(129 + b) * 256 + k] * x[128 * f + k];
        }
        act[b][f] = std::sqrt(re * re + im * im);
      }
    }
    const int strides[4] = {1, 2, 2, 1};
    for (int l = 0; l < 4; ++l) {
      const std::string p = "encoder." + std::to_string(l) + ".reparam_conv.";
      const auto& w = values(net_, p + "weight");
      const auto& bias = values(net_, p + "bias");
      const int in = static_cast<int>(act.size());
      const int frames = static_cast<int>(act[0].size());
      const int out = static_cast<int>(bias.size());
      const int out_frames = (frames + 2 - 3) / strides[l] + 1;
      std::vector<std::vector<double>> y(out, std::vector<double>(out_frames));
      for (int o = 0; o < out; ++o) {
        for (int t = 0; t < out_frames; ++t) {
          double s = bias[o];
          for (int c = 0; c < in; ++c) {
            for (int k = 0; k < 3; ++k) {
              const int src = t * strides[l] + k - 1;
              if (src >= 0 && src < frames)
                s += w[(static_cast<std::size_t>(o) * in + c) * 3 + k] * act[c][src];
            }
          }
          y[o][t] = std::max(s, 0.0);
        }
      }
      act = std::move(y);
    }
    const auto& wih = values(net_, "decoder.rnn.weight_ih");
    const auto& whh = values(net_, "decoder.rnn.weight_hh");
    const auto& bih = values(net_, "decoder.rnn.bias_ih");
    const auto& bhh = values(net_, "decoder.rnn.bias_hh");
    std::vector<double> gates(512);
    for (int r = 0; r < 512; ++r) {
      double s = bih[r] + bhh[r];
      for (int c = 0; c < 128; ++c) {
        s += wih[static_cast<std::size_t>(r) * 128 + c] * act[c][0] +
             whh[static_cast<std::size_t>(r) * 128 + c] * h_[c];
      }
      gates[r] = s;
    }
    const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    double logit = values(net_, "decoder.decoder.2.bias")[0];
    const auto& ow = values(net_, "decoder.decoder.2.weight");
    for (int j = 0; j < 128; ++j) {
      c_[j] = sig(gates[128 + j]) * c_[j] + sig(gates[j]) * std::tanh(gates[256 + j]);
      h_[j] = sig(gates[384 + j]) * std::tanh(c_[j]);
      logit += ow[j] * std::max(h_[j], 0.0);
    }
    context_.assign(x.begin() + 512, x.begin() + 576);
    return sig(logit);
  }

 private:
  const std::vector<Tensor>& net_;
  std::vector<double> context_ = std::vector<double>(64, 0.0);
  std::vector<double> h_ = std::vector<double>(128, 0.0);
  std::vector<double> c_ = std::vector<double>(128, 0.0);
};

TEST(SileroModel, ReadsThe16kHzBranchAndRunsItAsThePlainNetworkDoes) {
  const auto net16 = random_network(258, 256, 1);
  const auto net8 = random_network(130, 128, 2);
  const auto path = write_file("random.onnx", onnx_bytes(net16, net8));
  const auto model = load_silero_model(path);
  EXPECT_EQ(model->stft_basis, values(net16, "stft.forward_basis_buffer"));
  EXPECT_EQ(model->encoder[1].stride, 2);
  EXPECT_EQ(model->lstm_w_hh, values(net16, "decoder.rnn.weight_hh"));

  SileroVad vad(model);
  PlainSilero plain(net16);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> sample(-0.5F, 0.5F);
  std::vector<float> chunk(kChunkSamples);
  double worst = 0;
  double spread_low = 1, spread_high = 0;
  for (int i = 0; i < 12; ++i) {
    for (float& v : chunk) v = sample(rng) * static_cast<float>(i % 4);
    const float ours = vad.process(std::span<const float, kChunkSamples>(chunk));
    const double expected = plain.process(chunk);
    worst = std::max(worst, std::abs(ours - expected));
    spread_low = std::min(spread_low, expected);
    spread_high = std::max(spread_high, expected);
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(spread_high - spread_low, 1e-3) << "the random network's output should vary";

  // reset() starts over: the first chunk's probability again.
  vad.reset();
  PlainSilero fresh(net16);
  for (float& v : chunk) v = sample(rng);
  EXPECT_NEAR(vad.process(std::span<const float, kChunkSamples>(chunk)), fresh.process(chunk),
              1e-5);
}

TEST(SileroModel, F16TensorsAreWidenedExactly) {
  auto net16 = random_network(258, 256, 4);
  for (auto& t : net16) {
    for (float& v : t.values) v = static_cast<float>(static_cast<_Float16>(v));
  }
  pb::ModelProto model;
  auto* graph = model.mutable_graph();
  for (const auto& t : net16) add_constant(*graph, t, true);
  const auto path = write_file("f16.onnx", model.SerializeAsString());
  const auto loaded = load_silero_model(path);
  EXPECT_EQ(loaded->encoder[0].weight, values(net16, "encoder.0.reparam_conv.weight"));
  EXPECT_EQ(loaded->out_weight, values(net16, "decoder.decoder.2.weight"));
}

TEST(SileroModel, RefusesWhatIsNotASileroNetworkWithAClearMessage) {
  const auto net16 = random_network(258, 256, 5);
  const auto net8 = random_network(130, 128, 6);
  const auto expect_error = [](const std::filesystem::path& p, const std::string& part) {
    try {
      load_silero_model(p);
      ADD_FAILURE() << "loaded " << p;
    } catch (const SileroModelError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(write_file("missing.onnx", onnx_bytes(net16, net8, "decoder.rnn.bias_hh")),
               "no tensor 'decoder.rnn.bias_hh'");
  expect_error(write_file("only8k.onnx", onnx_bytes(net8, net8)), "16 kHz network");
  auto bad = net16;
  bad[3].dims = {64, 128, 1, 3};
  expect_error(write_file("shape.onnx", onnx_bytes(bad, net8)),
               "'encoder.1.reparam_conv.weight' is [64, 128, 1, 3], not [64, 128, 3]");
  const std::string whole = onnx_bytes(net16, net8);
  expect_error(write_file("truncated.onnx", whole.substr(0, whole.size() / 2)),
               "not an ONNX model");
  expect_error(write_file("text.onnx", "this is not a model at all\n"), "not an ONNX model");
  expect_error(testing::binary_dir() / "test-tmp" / "silero-model" / "absent.onnx", "cannot open");
}

TEST(OnnxTensors, ReadsInitializersAndConstantsOfEveryGraph) {
  pb::ModelProto model;
  auto* graph = model.mutable_graph();
  auto* init = graph->add_initializer();
  init->set_name("w");
  init->set_data_type(pb::TensorProto::FLOAT);
  init->add_dims(2);
  init->add_float_data(1.5F);
  init->add_float_data(-2.0F);
  auto* loop = graph->add_node();
  loop->set_op_type("Loop");
  loop->set_name("L");
  auto* body = loop->add_attribute();
  body->set_name("body");
  auto* inner = body->mutable_g()->add_initializer();
  inner->set_name("d");
  inner->set_data_type(pb::TensorProto::DOUBLE);
  inner->add_double_data(0.25);
  const auto parsed = onnx::parse_onnx(model.SerializeAsString());
  ASSERT_EQ(parsed.graphs.size(), 2U);
  EXPECT_EQ(parsed.graphs[0].path, "main");
  ASSERT_NE(parsed.graphs[0].find("w"), nullptr);
  EXPECT_EQ(parsed.graphs[0].find("w")->values, (std::vector<float>{1.5F, -2.0F}));
  EXPECT_EQ(parsed.graphs[1].path, "main/L.body");
  EXPECT_EQ(parsed.graphs[1].find("d")->values, (std::vector<float>{0.25F}));
  EXPECT_EQ(parsed.graphs[0].find("d"), nullptr);

  init->add_float_data(3.0F);  // three values for a shape of two
  EXPECT_THROW(onnx::parse_onnx(model.SerializeAsString()), onnx::OnnxError);
  init->clear_float_data();
  init->set_data_location(1);
  EXPECT_THROW(onnx::parse_onnx(model.SerializeAsString()), onnx::OnnxError);
}

}  // namespace
}  // namespace earshot::whisper::silero
