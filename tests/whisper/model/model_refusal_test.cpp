// Every way a model file can be wrong ends in Error(kModelFormat, "<path>: <what>"), never a
// crash or a huge allocation.

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "testing/small_model.h"

namespace earshot::whisper {
namespace {

using test::small_contents;

// Parses `bytes` and returns the error message; fails the test if it loads or throws anything
// other than a kModelFormat Error.
std::string refusal(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)parse_model(bytes, "bad.bin");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.bin: ", 0), 0u) << what;
    return what;
  }
  ADD_FAILURE() << "model loaded";
  return {};
}

std::string refusal(const tools::ModelContents& contents) {
  return refusal(tools::serialize(contents));
}

void set_i32(std::vector<std::uint8_t>& bytes, std::size_t offset, std::int32_t v) {
  for (int i = 0; i < 4; ++i)
    bytes[offset + i] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(v) >> (8 * i));
}

tools::TensorRecord& tensor(tools::ModelContents& c, const std::string& name) {
  for (auto& t : c.tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(ModelRefusal, BadMagic) {
  auto bytes = tools::serialize(small_contents());
  bytes[0] ^= 0xFF;
  EXPECT_CONTAINS(refusal(bytes), "bad magic");
  EXPECT_CONTAINS(refusal(std::vector<std::uint8_t>{'R', 'I', 'F', 'F', 0, 0, 0, 0}), "bad magic");
}

TEST(ModelRefusal, EmptyAndTruncatedAtEveryRegion) {
  const auto bytes = tools::serialize(small_contents());
  EXPECT_CONTAINS(refusal(std::vector<std::uint8_t>{}), "truncated");
  // Cut points across the header, filters, vocabulary, tensor headers and tensor data.
  std::vector<std::size_t> cuts = {1, 3, 4, 10, 47, 48, 52, 56, 100, 300};
  for (std::size_t cut = 301; cut < bytes.size(); cut += 1237) cuts.push_back(cut);
  cuts.push_back(bytes.size() - 1);
  for (const std::size_t cut : cuts) {
    const std::vector<std::uint8_t> prefix(bytes.begin(),
                                           bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    const std::string what = refusal(prefix);
    const bool explained = what.find("truncated") != std::string::npos ||
                           what.find("missing tensor") != std::string::npos;
    EXPECT_TRUE(explained) << "cut at " << cut << ": " << what;
  }
}

TEST(ModelRefusal, TruncatedFileOnDiskNamesThePath) {
  auto bytes = tools::serialize(small_contents());
  bytes.resize(bytes.size() - 100);
  test::TempFile file("truncated.bin");
  {
    std::ofstream out(file.path(), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  for (const bool use_mmap : {true, false}) {
    try {
      (void)load_model(file.path(), {.use_mmap = use_mmap});
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
      EXPECT_CONTAINS(std::string(e.what()), file.path().string() + ": truncated: data of tensor");
    }
  }
}

TEST(ModelRefusal, MissingFileAndDirectoryAreIoErrors) {
  for (const std::filesystem::path& path : {std::filesystem::path("/nonexistent/earshot/model.bin"),
                                            std::filesystem::temp_directory_path()}) {
    for (const bool use_mmap : {true, false}) {
      try {
        (void)load_model(path, {.use_mmap = use_mmap});
        ADD_FAILURE() << path;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kIo) << e.what();
        EXPECT_CONTAINS(std::string(e.what()), path.string());
      }
    }
  }
}

TEST(ModelRefusal, AbsurdHparamsAreRefusedBeforeAnyAllocation) {
  const auto good = tools::serialize(small_contents());
  const char* names[] = {"n_vocab",       "n_audio_ctx", "n_audio_state", "n_audio_head",
                         "n_audio_layer", "n_text_ctx",  "n_text_state",  "n_text_head",
                         "n_text_layer",  "n_mels"};
  for (int i = 0; i < 10; ++i) {
    for (const std::int32_t v : {0, -1, 1 << 30, std::numeric_limits<std::int32_t>::min()}) {
      auto bytes = good;
      set_i32(bytes, 4 + 4 * static_cast<std::size_t>(i), v);
      const std::string what = refusal(bytes);
      EXPECT_CONTAINS(what, std::string("hparam ") + names[i]);
    }
  }
  auto bytes = good;
  set_i32(bytes, 4 + 4 * 10, 5);  // ftype 5 (q4_2, removed from ggml)
  EXPECT_CONTAINS(refusal(bytes), "ftype");
  set_i32(bytes, 4 + 4 * 10, 6);  // q4_3, removed too
  EXPECT_CONTAINS(refusal(bytes), "ftype");
  set_i32(bytes, 4 + 4 * 10, -1);
  EXPECT_CONTAINS(refusal(bytes), "ftype");
}

TEST(ModelRefusal, InconsistentDims) {
  auto contents = small_contents();
  contents.dims.n_audio_head = 5;  // 96 is not a multiple of 5
  EXPECT_CONTAINS(refusal(contents), "multiple of n_audio_head");
  contents = small_contents();
  contents.dims.n_text_head = 7;
  EXPECT_CONTAINS(refusal(contents), "multiple of n_text_head");
  contents = small_contents();
  contents.dims.n_text_state = 64;
  EXPECT_CONTAINS(refusal(contents), "differs from n_text_state");
}

TEST(ModelRefusal, MelFilterHeaderMustMatch) {
  auto contents = small_contents();
  contents.filters_n_mel = 80;
  EXPECT_CONTAINS(refusal(contents), "mel filter bank is 80 x 201");
  contents = small_contents();
  contents.filters_n_fft = 200;
  EXPECT_CONTAINS(refusal(contents), "mel filter bank is 8 x 200");
}

TEST(ModelRefusal, Vocabulary) {
  auto contents = small_contents();
  contents.vocab.push_back("extra");  // 301 stored tokens for n_vocab 300
  EXPECT_CONTAINS(refusal(contents), "vocabulary stores 301 tokens, n_vocab is 300");

  // A huge count or token length must be refused without reserving it.
  const auto good = tools::serialize(small_contents());
  const std::size_t vocab_offset = 4 + 11 * 4 + 8 + 8 * 201 * 4;
  auto bytes = good;
  set_i32(bytes, vocab_offset, std::numeric_limits<std::int32_t>::max());
  EXPECT_CONTAINS(refusal(bytes), "vocabulary stores");
  bytes = good;
  set_i32(bytes, vocab_offset, -3);
  EXPECT_CONTAINS(refusal(bytes), "vocabulary stores -3");
  bytes = good;
  set_i32(bytes, vocab_offset + 4, -1);  // first token's length: 4 GiB
  EXPECT_CONTAINS(refusal(bytes), "truncated: token 0");
}

TEST(ModelRefusal, TensorWithWrongShape) {
  auto contents = small_contents();
  tensor(contents, "encoder.blocks.0.attn.query.weight").shape = {96, 95};
  tensor(contents, "encoder.blocks.0.attn.query.weight").values.resize(96 * 95);
  EXPECT_CONTAINS(
      refusal(contents),
      "tensor 'encoder.blocks.0.attn.query.weight' has shape [96, 95], expected [96, 96]");
  // Same element count, dimensions swapped.
  contents = small_contents();
  tensor(contents, "encoder.blocks.1.mlp.0.weight").shape = {96, 384};
  EXPECT_CONTAINS(refusal(contents), "has shape [96, 384], expected [384, 96]");
  // A key bias that Whisper does not have is an unknown tensor.
  contents = small_contents();
  contents.tensors.push_back(
      {"encoder.blocks.0.attn.key.bias", {96}, tools::kTypeF32, std::vector<float>(96), {}});
  EXPECT_CONTAINS(refusal(contents), "unknown tensor 'encoder.blocks.0.attn.key.bias'");
}

TEST(ModelRefusal, MissingUnknownAndDuplicateTensors) {
  auto contents = small_contents();
  std::erase_if(contents.tensors, [](const auto& t) { return t.name == "decoder.ln.bias"; });
  EXPECT_CONTAINS(refusal(contents), "missing tensor 'decoder.ln.bias'");

  contents = small_contents();
  contents.tensors.push_back(
      {"decoder.blocks.2.attn_ln.weight", {96}, tools::kTypeF32, std::vector<float>(96), {}});
  EXPECT_CONTAINS(refusal(contents), "unknown tensor 'decoder.blocks.2.attn_ln.weight'");

  contents = small_contents();
  contents.tensors.push_back(contents.tensors[3]);
  EXPECT_CONTAINS(refusal(contents), "appears twice");
}

TEST(ModelRefusal, TensorHeaderFields) {
  auto contents = small_contents();
  tensor(contents, "decoder.ln.bias").type = 4;  // q4_3 was removed from ggml
  tensor(contents, "decoder.ln.bias").raw = std::vector<std::uint8_t>(96 * 4);
  EXPECT_CONTAINS(refusal(contents), "unknown type 4");

  // A quantized row must hold whole blocks: the conv weight's row has 3 values.
  contents = small_contents();
  tensor(contents, "encoder.conv1.weight").type = tools::kTypeQ8_0;
  tensor(contents, "encoder.conv1.weight").raw = std::vector<std::uint8_t>(1000);
  contents.ftype_field = 2007;
  EXPECT_CONTAINS(refusal(contents), "not a multiple of the q8_0 block size");

  // Quantized tensors of an older block layout (quantization version 0/1).
  contents = small_contents(tools::kTypeQ8_0);
  contents.ftype_field = tools::file_type_of(tools::kTypeQ8_0);
  EXPECT_CONTAINS(refusal(contents), "quantization version 0");

  // n_dims and name length out of range.
  const auto good = tools::serialize(small_contents());
  auto first = small_contents();
  first.tensors.clear();
  const std::size_t tensors_offset = tools::serialize(first).size();
  auto bytes = good;
  set_i32(bytes, tensors_offset, 0);
  EXPECT_CONTAINS(refusal(bytes), "tensor with 0 dimensions");
  bytes = good;
  set_i32(bytes, tensors_offset, 5);
  EXPECT_CONTAINS(refusal(bytes), "tensor with 5 dimensions");
  bytes = good;
  set_i32(bytes, tensors_offset + 4, 1 << 30);
  EXPECT_CONTAINS(refusal(bytes), "tensor name length");
  bytes = good;
  set_i32(bytes, tensors_offset + 12, std::numeric_limits<std::int32_t>::max());  // ne[0]
  EXPECT_CONTAINS(refusal(bytes), "has shape");
}

TEST(ModelRefusal, DataPastEndOfFile) {
  // The last tensor declares a type whose data is larger than what follows it.
  auto contents = small_contents();
  auto& last = contents.tensors.back();
  ASSERT_EQ(last.type, tools::kTypeF32);
  last.raw = tools::encode_values(tools::kTypeF16, last.values);  // half the bytes f32 needs
  EXPECT_CONTAINS(refusal(contents), "truncated: data of tensor '" + last.name + "' needs");
}

}  // namespace
}  // namespace earshot::whisper
