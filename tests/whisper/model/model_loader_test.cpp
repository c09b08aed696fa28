// Loading writer-made model files of every storage type, and the type conversions under it.

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "testing/small_model.h"
#include "whisper/model/ggml_types.h"

namespace earshot::whisper {
namespace {

using test::small_contents;
using test::small_dims;

const tools::TensorRecord& record(const tools::ModelContents& c, const std::string& name) {
  for (const auto& t : c.tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

tools::TensorRecord& mutable_record(tools::ModelContents& c, const std::string& name) {
  for (auto& t : c.tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

const Tensor& loaded(const Model& m, const std::string& name) {
  const auto& w = m.weights();
  if (name == "decoder.token_embedding.weight") return w.decoder.token_embedding;
  if (name == "encoder.blocks.1.mlp.0.weight") return w.encoder.blocks[1].mlp_fc1.weight;
  if (name == "decoder.blocks.0.cross_attn.key.weight")
    return w.decoder.blocks[0].cross_attn.key.weight;
  if (name == "encoder.conv1.weight") return w.encoder.conv1_weight;
  if (name == "encoder.conv2.bias") return w.encoder.conv2_bias;
  if (name == "decoder.positional_embedding") return w.decoder.positional_embedding;
  throw std::runtime_error("no accessor for " + name);
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0x7C00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
}

TEST(Fp16, EveryHalfRoundTripsThroughTheWriter) {
  // The writer's encoder and the loader's decoder are independent: each non-NaN half must
  // survive half -> float -> half exactly.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = fp16_to_fp32(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(tools::fp32_to_fp16(f), bits) << std::hex << h;
  }
  EXPECT_EQ(tools::fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(tools::fp32_to_fp16(1e6f), 0x7C00);                          // overflow to inf
}

// Blocks written byte by byte from ggml's layouts (quantization version 2), with the values
// they must decode to.
struct KnownBlock {
  GgmlType type;
  std::vector<std::uint8_t> bytes;
  std::vector<float> values;
};

std::vector<KnownBlock> known_blocks() {
  std::vector<KnownBlock> blocks;
  {  // q4_0: d = 0.5; byte j = j | (15 - j) << 4; value = (q - 8) * d
    KnownBlock b{GgmlType::kQ4_0, {0x00, 0x38}, std::vector<float>(32)};
    for (int j = 0; j < 16; ++j) {
      b.bytes.push_back(static_cast<std::uint8_t>(j | ((15 - j) << 4)));
      b.values[j] = static_cast<float>(j - 8) * 0.5f;
      b.values[j + 16] = static_cast<float>(7 - j) * 0.5f;
    }
    blocks.push_back(b);
  }
  {  // q4_1: d = 1, m = 0.5; value = q * d + m
    KnownBlock b{GgmlType::kQ4_1, {0x00, 0x3C, 0x00, 0x38}, std::vector<float>(32)};
    for (int j = 0; j < 16; ++j) {
      b.bytes.push_back(static_cast<std::uint8_t>(j | ((15 - j) << 4)));
      b.values[j] = static_cast<float>(j) + 0.5f;
      b.values[j + 16] = static_cast<float>(15 - j) + 0.5f;
    }
    blocks.push_back(b);
  }
  {  // q5_0: d = 0.25, q[j] = j: fifth bits set for values 16..31 (qh = 0xFFFF0000)
    KnownBlock b{GgmlType::kQ5_0, {0x00, 0x34, 0x00, 0x00, 0xFF, 0xFF}, std::vector<float>(32)};
    for (int j = 0; j < 16; ++j) b.bytes.push_back(static_cast<std::uint8_t>(j | (j << 4)));
    for (int j = 0; j < 32; ++j) b.values[j] = static_cast<float>(j - 16) * 0.25f;
    blocks.push_back(b);
  }
  {  // q5_1: d = 0.125, m = -1, q[j] = 31 - j: fifth bit set for values 0..15 (qh = 0x0000FFFF)
    KnownBlock b{
        GgmlType::kQ5_1, {0x00, 0x30, 0x00, 0xBC, 0xFF, 0xFF, 0x00, 0x00}, std::vector<float>(32)};
    for (int j = 0; j < 16; ++j) {
      const int lo = (31 - j) & 0x0F;
      const int hi = (15 - j) & 0x0F;
      b.bytes.push_back(static_cast<std::uint8_t>(lo | (hi << 4)));
    }
    for (int j = 0; j < 32; ++j) b.values[j] = static_cast<float>(31 - j) * 0.125f - 1.0f;
    blocks.push_back(b);
  }
  {  // q8_0: d = 2^-7, q[j] = 8j - 128
    KnownBlock b{GgmlType::kQ8_0, {0x00, 0x20}, std::vector<float>(32)};
    for (int j = 0; j < 32; ++j) {
      b.bytes.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(8 * j - 128)));
      b.values[j] = static_cast<float>(8 * j - 128) / 128.0f;
    }
    blocks.push_back(b);
  }
  return blocks;
}

TEST(GgmlTypes, QuantizedBlocksDecodeToKnownValues) {
  for (const auto& block : known_blocks()) {
    const auto layout = ggml_type_layout(static_cast<std::int32_t>(block.type));
    ASSERT_TRUE(layout);
    ASSERT_EQ(block.bytes.size(), static_cast<std::size_t>(layout->block_bytes)) << layout->name;
    std::vector<float> out(32);
    convert_to_f32(block.type, block.bytes.data(), 32, out.data());
    EXPECT_EQ(out, block.values) << layout->name;
  }
}

TEST(ModelLoader, KnownQuantizedBlocksInAFileDecodeToKnownValues) {
  for (const auto& block : known_blocks()) {
    auto contents = small_contents();
    // A [4d x d] matrix made of one known block repeated.
    auto& t = mutable_record(contents, "encoder.blocks.1.mlp.0.weight");
    t.type = static_cast<std::int32_t>(block.type);
    const std::size_t n_blocks = t.values.size() / 32;
    t.raw.clear();
    for (std::size_t b = 0; b < n_blocks; ++b)
      t.raw.insert(t.raw.end(), block.bytes.begin(), block.bytes.end());
    contents.ftype_field = 2000 + tools::file_type_of(static_cast<std::int32_t>(block.type));
    const auto model = test::parse(contents);
    const auto& w = loaded(*model, t.name);
    ASSERT_EQ(w.data.size(), n_blocks * 32);
    for (std::size_t i = 0; i < w.data.size(); ++i) {
      ASSERT_EQ(w.data[i], block.values[i % 32]) << static_cast<int>(block.type) << " value " << i;
    }
  }
}

TEST(ModelLoader, WriterModelLoadsWithItsDimsVocabAndFilters) {
  const auto contents = small_contents();
  test::TempFile file("f32.bin");
  tools::write_model_file(contents, file.path());
  for (const bool use_mmap : {true, false}) {
    const auto model = load_model(file.path(), {.use_mmap = use_mmap});
    const ModelDims& d = model_dims(*model);
    EXPECT_EQ(d.n_vocab, 300);
    EXPECT_EQ(d.n_audio_ctx, 12);
    EXPECT_EQ(d.n_audio_state, 96);
    EXPECT_EQ(d.n_audio_head, 3);
    EXPECT_EQ(d.n_audio_layer, 2);
    EXPECT_EQ(d.n_text_ctx, 16);
    EXPECT_EQ(d.n_text_head, 3);
    EXPECT_EQ(d.n_mels, 8);
    EXPECT_EQ(d.ftype, 0);
    EXPECT_FALSE(model_is_multilingual(*model));
    EXPECT_EQ(model->vocab(), contents.vocab);
    EXPECT_EQ(model->vocab().size(), 300u);
    EXPECT_EQ(model->vocab()[65], "A");
    EXPECT_EQ(model->mel_filters(), contents.mel_filters);
    EXPECT_EQ(model->weights().encoder.blocks.size(), 2u);
    EXPECT_EQ(model->weights().decoder.blocks.size(), 2u);
    EXPECT_TRUE(model->weights().encoder.blocks[0].attn.key.bias.data.empty());
    for (const auto& t : contents.tensors) {
      if (t.name == "encoder.conv2.bias" || t.name == "decoder.positional_embedding" ||
          t.name == "decoder.token_embedding.weight") {
        EXPECT_EQ(loaded(*model, t.name).data, t.values) << t.name;
      }
    }
    // Conv biases are [d, 1] in the file, [d] once loaded.
    EXPECT_EQ(model->weights().encoder.conv2_bias.shape, (std::vector<std::int64_t>{96}));
  }
}

// The header's ftype is ggml's file type, as whisper.cpp's converter and quantizer write it
// (quantized: + 1000 * quantization version 2), not the matrices' tensor type: a q8_0 file
// that said 8 would read as q5_0 to other implementations.
TEST(ModelLoader, WrittenHeadersHoldTheOfficialFileTypeNumbers) {
  for (const auto& [name, expected] :
       std::vector<std::pair<std::string, std::int32_t>>{{"f32", 0},
                                                         {"f16", 1},
                                                         {"q4_0", 2002},
                                                         {"q4_1", 2003},
                                                         {"q5_0", 2008},
                                                         {"q5_1", 2009},
                                                         {"q8_0", 2007}}) {
    const auto type = tools::type_from_name(name);
    ASSERT_TRUE(type) << name;
    const auto bytes = tools::serialize(small_contents(*type));
    std::int32_t ftype = 0;
    std::memcpy(&ftype, bytes.data() + 4 + 4 * 10, 4);  // magic, then the 11th hparam
    EXPECT_EQ(ftype, expected) << name;
    const auto model = test::parse(small_contents(*type));
    EXPECT_EQ(model->dims().ftype, expected % 1000) << name;
  }
}

TEST(ModelLoader, EveryStorageTypeLoadsWithinItsQuantizationError) {
  for (const auto& [name, type] :
       std::vector<std::pair<std::string, std::int32_t>>{{"f16", tools::kTypeF16},
                                                         {"q8_0", tools::kTypeQ8_0},
                                                         {"q5_1", tools::kTypeQ5_1},
                                                         {"q5_0", tools::kTypeQ5_0},
                                                         {"q4_1", tools::kTypeQ4_1},
                                                         {"q4_0", tools::kTypeQ4_0}}) {
    const auto contents = small_contents(type);
    test::TempFile file(name + ".bin");
    tools::write_model_file(contents, file.path());
    const auto model = load_model(file.path());
    EXPECT_EQ(model->dims().ftype, tools::file_type_of(type)) << name;
    for (const std::string tensor :
         {"decoder.token_embedding.weight", "encoder.blocks.1.mlp.0.weight",
          "decoder.blocks.0.cross_attn.key.weight", "encoder.conv1.weight"}) {
      const auto& original = record(contents, tensor);
      const auto values = loaded(*model, tensor).to_f32();
      ASSERT_EQ(values.size(), original.values.size()) << name << " " << tensor;
      // Bound per block of 32: one quantization step (q4_0/q5_0 clamp the far end to a full
      // step), plus the f16 rounding of the scale.
      const double levels = type == tools::kTypeQ8_0   ? 127.0 * 1.5
                            : type == tools::kTypeQ5_0 ? 16.0
                            : type == tools::kTypeQ5_1 ? 31.0 / 2
                            : type == tools::kTypeQ4_0 ? 8.0
                            : type == tools::kTypeQ4_1 ? 15.0 / 2
                                                       : 2048.0;
      const bool block_type = original.type >= tools::kTypeQ4_0;
      double worst = 0;
      for (std::size_t b = 0; b < values.size(); b += 32) {
        double amax = 0;
        for (std::size_t j = b; j < b + 32 && j < values.size(); ++j) {
          amax = std::max(amax, std::fabs(static_cast<double>(original.values[j])));
        }
        for (std::size_t j = b; j < b + 32 && j < values.size(); ++j) {
          const double err = std::fabs(static_cast<double>(values[j]) - original.values[j]);
          const double bound =
              block_type ? amax / levels * 1.01 : std::fabs(original.values[j]) / 2048.0 + 1e-7;
          ASSERT_LE(err, bound) << name << " " << tensor << " value " << j;
          worst = std::max(worst, err);
        }
      }
      // Quantization changed something (the bound is not vacuous) unless stored as f32.
      if (original.type != tools::kTypeF32) {
        EXPECT_GT(worst, 0.0) << name << " " << tensor;
      }
    }
    // Quantized files keep conv weights f16 and 1-D tensors f32.
    EXPECT_EQ(record(contents, "encoder.conv1.weight").type, tools::kTypeF16) << name;
    EXPECT_EQ(loaded(*model, "encoder.conv2.bias").data,
              record(contents, "encoder.conv2.bias").values);
  }
}

TEST(ModelWriter, SameSeedSameBytesOtherSeedOtherWeights) {
  const auto a = tools::serialize(small_contents(tools::kTypeQ5_1, 3));
  const auto b = tools::serialize(small_contents(tools::kTypeQ5_1, 3));
  const auto c = tools::serialize(small_contents(tools::kTypeQ5_1, 4));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ModelWriter, GeneratedVocabularyHasWhisperSizesAndUniqueTokens) {
  const auto multilingual = tools::generated_vocab(51865, 1);
  EXPECT_EQ(multilingual.size(), 50257u);
  EXPECT_EQ(tools::generated_vocab(51864, 1).size(), 50256u);
  EXPECT_EQ(tools::generated_vocab(51866, 1).size(), 50257u);
  EXPECT_EQ(tools::generated_vocab(1000, 1).size(), 1000u);
  std::set<std::string> unique(multilingual.begin(), multilingual.end());
  EXPECT_EQ(unique.size(), multilingual.size());
  for (int b = 0; b < 256; ++b) EXPECT_EQ(multilingual[b], std::string(1, static_cast<char>(b)));
}

TEST(ModelLoader, OfficialSizesFromPresetsValidate) {
  // Every official size's hparams pass validation; the tensors are left out to keep it
  // fast, so the loader must stop at the first missing tensor (not before).
  for (const std::string size : {"tiny", "base", "small", "medium", "large"}) {
    tools::ModelSpec spec;
    spec.dims = *tools::preset_dims(size);
    tools::ModelContents header;
    header.dims = spec.dims;
    header.filters_n_mel = spec.dims.n_mels;
    header.mel_filters = tools::mel_filter_bank(spec.dims.n_mels);
    header.vocab = {"a", "b"};
    try {
      (void)parse_model(tools::serialize(header), size);
      ADD_FAILURE() << size << " loaded without tensors";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
      EXPECT_NE(std::string(e.what()).find("missing tensor"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace earshot::whisper
