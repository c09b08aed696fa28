// OpenAI's alignment-head masks (the base85 + gzip blobs of whisper/__init__.py) decoded for
// every official model, and the fallback for unknown ones.

#include "whisper/model/alignment_heads.h"

#include <gtest/gtest.h>

#include "model_writer/model_writer.h"

namespace earshot::whisper {
namespace {

TEST(AlignmentHeads, OfficialMasksDecode) {
  EXPECT_EQ(base85_decode("Xk~0{Zv"), "hello");  // base64.b85encode(b"hello")
  ModelDims turbo;
  turbo.n_vocab = 51866;
  turbo.n_text_state = 1280;
  turbo.n_text_layer = 4;
  turbo.n_text_head = 20;
  EXPECT_EQ(official_model_name(turbo), "large-v3-turbo");
  EXPECT_EQ(alignment_heads(turbo),
            (AlignmentHeads{{2, 4}, {2, 11}, {3, 3}, {3, 6}, {3, 11}, {3, 14}}));
  for (const char* name : {"tiny", "base", "small", "medium", "large"}) {
    ModelDims dims = *tools::preset_dims(name);
    for (const int n_vocab : {51864, 51865, 51866}) {
      dims.n_vocab = n_vocab;
      const AlignmentHeads heads = alignment_heads(dims);
      EXPECT_FALSE(heads.empty()) << name << " " << n_vocab;
      for (const auto& [layer, head] : heads) {
        EXPECT_LT(layer, dims.n_text_layer);
        EXPECT_LT(head, dims.n_text_head);
      }
    }
  }
  // Unknown models: every head of the upper half of the decoder.
  ModelDims micro = *tools::preset_dims("micro");
  EXPECT_FALSE(official_model_name(micro));
  EXPECT_EQ(alignment_heads(micro), (AlignmentHeads{{1, 0}, {1, 1}}));
}

}  // namespace
}  // namespace earshot::whisper
