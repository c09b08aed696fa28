// The conformance model files as the loader reads them, and the random-model writer's mel
// filter bank against the one OpenAI ships (stored in the file).

#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "testing/array_compare.h"
#include "testing/paths.h"
#include "whisper/model/model.h"

namespace earshot::whisper {
namespace {

TEST(ModelFileConformance, MicroDimsMatchMeta) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  std::ifstream in(dir / "ref/micro/meta.json");
  const auto meta = nlohmann::json::parse(in)["dims"];
  for (const char* file : {"micro.ggml.bin", "micro.ggml-f16.bin"}) {
    const auto model = load_model(dir / file);
    const ModelDims& d = model_dims(*model);
    EXPECT_EQ(d.n_vocab, meta["n_vocab"].get<int>());
    EXPECT_EQ(d.n_audio_ctx, meta["n_audio_ctx"].get<int>());
    EXPECT_EQ(d.n_audio_state, meta["n_audio_state"].get<int>());
    EXPECT_EQ(d.n_audio_head, meta["n_audio_head"].get<int>());
    EXPECT_EQ(d.n_audio_layer, meta["n_audio_layer"].get<int>());
    EXPECT_EQ(d.n_text_ctx, meta["n_text_ctx"].get<int>());
    EXPECT_EQ(d.n_text_state, meta["n_text_state"].get<int>());
    EXPECT_EQ(d.n_text_head, meta["n_text_head"].get<int>());
    EXPECT_EQ(d.n_text_layer, meta["n_text_layer"].get<int>());
    EXPECT_EQ(d.n_mels, meta["n_mels"].get<int>());
    EXPECT_TRUE(model_is_multilingual(*model));
    EXPECT_EQ(model->vocab().size(), 50257u);
    EXPECT_EQ(model->vocab()[0], "!");  // GPT-2's byte order starts at the printable bytes
    EXPECT_EQ(model->vocab()[220], " ");
    EXPECT_EQ(model->mel_filters().size(), 80u * 201u);
  }
  EXPECT_EQ(model_dims(*load_model(dir / "micro.ggml.bin")).ftype, 0);
  EXPECT_EQ(model_dims(*load_model(dir / "micro.ggml-f16.bin")).ftype, 1);
}

TEST(ModelFileConformance, MicroLoadsTheSameWithAndWithoutMmap) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto mapped = load_model(dir / "micro.ggml.bin", {.use_mmap = true});
  const auto read = load_model(dir / "micro.ggml.bin", {.use_mmap = false});
  EXPECT_EQ(mapped->vocab(), read->vocab());
  EXPECT_EQ(mapped->weights().decoder.token_embedding.data,
            read->weights().decoder.token_embedding.data);
  EXPECT_EQ(mapped->weights().encoder.blocks[1].attn.out.bias.data,
            read->weights().encoder.blocks[1].attn.out.bias.data);
}

TEST(ModelFileConformance, WriterMelFilterBankMatchesOpenAIs) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = load_model(dir / "micro.ggml.bin");
  const auto ours = tools::mel_filter_bank(80);
  const auto d = testing::compare_arrays(ours, model->mel_filters());
  std::cout << "[ measured ] writer mel_80 vs file: " << d.summary() << "\n";
  EXPECT_LE(d.max_abs, 1e-6);
}

}  // namespace
}  // namespace earshot::whisper
