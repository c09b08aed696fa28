// earshot-make-model: writes a random-weight Whisper model in the ggml format.
//   earshot-make-model --dims tiny --ftype f16 --seed 1 --out tiny-random.bin
//   earshot-make-model --dims custom --n-state 32 --n-head 2 --n-layer 1 --n-vocab 51865 --out
//   x.bin

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "model_writer/model_writer.h"

int main(int argc, char** argv) {
  CLI::App app{"Writes a Whisper model with random weights in the ggml file format"};
  std::string dims_name = "micro";
  std::string ftype_name = "f32";
  std::string out;
  std::uint64_t seed = 0;
  int n_vocab = 51865;
  int n_mels = 80;
  int n_audio_ctx = 1500;
  int n_text_ctx = 448;
  int n_state = 0;
  int n_head = 0;
  int n_layer = 0;
  int n_audio_layer = 0;
  int n_text_layer = 0;
  app.add_option("--dims", dims_name, "micro, tiny, base, small, medium, large or custom")
      ->capture_default_str();
  app.add_option("--n-vocab", n_vocab, "vocabulary size (51864 .en, 51865, 51866 v3)")
      ->capture_default_str();
  app.add_option("--n-mels", n_mels, "mel bands (80, or 128 for v3)")->capture_default_str();
  app.add_option("--ftype", ftype_name, "f32, f16, q4_0, q4_1, q5_0, q5_1 or q8_0")
      ->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--n-audio-ctx", n_audio_ctx, "encoder positions")->capture_default_str();
  app.add_option("--n-text-ctx", n_text_ctx, "decoder positions")->capture_default_str();
  app.add_option("--n-state", n_state, "width (custom or override)");
  app.add_option("--n-head", n_head, "attention heads (custom or override)");
  app.add_option("--n-layer", n_layer, "encoder and decoder layers (custom or override)");
  app.add_option("--n-audio-layer", n_audio_layer, "encoder layers (override)");
  app.add_option("--n-text-layer", n_text_layer, "decoder layers (override)");
  app.add_option("--out", out, "output file")->required();
  CLI11_PARSE(app, argc, argv);

  auto dims = dims_name == "custom" ? earshot::tools::preset_dims("micro")
                                    : earshot::tools::preset_dims(dims_name);
  const auto ftype = earshot::tools::type_from_name(ftype_name);
  if (!dims || !ftype) {
    std::fprintf(stderr, "earshot-make-model: unknown %s\n", !dims ? "--dims" : "--ftype");
    return 2;
  }
  if (n_state > 0) {
    dims->n_audio_state = dims->n_text_state = n_state;
  }
  if (n_head > 0) {
    dims->n_audio_head = dims->n_text_head = n_head;
  }
  if (n_layer > 0) {
    dims->n_audio_layer = dims->n_text_layer = n_layer;
  }
  if (n_audio_layer > 0) {
    dims->n_audio_layer = n_audio_layer;
  }
  if (n_text_layer > 0) {
    dims->n_text_layer = n_text_layer;
  }
  dims->n_vocab = n_vocab;
  dims->n_mels = n_mels;
  dims->n_audio_ctx = n_audio_ctx;
  dims->n_text_ctx = n_text_ctx;
  dims->ftype = *ftype;
  if (dims->n_audio_state % dims->n_audio_head != 0 || n_vocab < 1 || n_mels < 1) {
    std::fprintf(stderr, "earshot-make-model: inconsistent dimensions\n");
    return 2;
  }
  try {
    earshot::tools::ModelSpec spec;
    spec.dims = *dims;
    spec.seed = seed;
    earshot::tools::write_model_file(earshot::tools::make_model(spec), out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "earshot-make-model: %s\n", e.what());
    return 1;
  }
  return 0;
}
