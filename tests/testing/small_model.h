#pragma once

// Small writer-made models for the engine's unit tests: real ggml files, a few hundred KB.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "whisper/model/model.h"

namespace earshot::whisper::test {

// Odd sizes on purpose (3 heads, 8 mels, 12 encoder positions), widths a multiple of 32 so
// every matrix can be quantized.
inline ModelDims small_dims(std::int32_t ftype = tools::kTypeF32) {
  ModelDims d;
  d.n_vocab = 300;
  d.n_audio_ctx = 12;
  d.n_audio_state = 96;
  d.n_audio_head = 3;
  d.n_audio_layer = 2;
  d.n_text_ctx = 16;
  d.n_text_state = 96;
  d.n_text_head = 3;
  d.n_text_layer = 2;
  d.n_mels = 8;
  d.ftype = ftype;
  return d;
}

inline tools::ModelContents small_contents(std::int32_t ftype = tools::kTypeF32,
                                           std::uint64_t seed = 7) {
  tools::ModelSpec spec;
  spec.dims = small_dims(ftype);
  spec.seed = seed;
  return tools::make_model(spec);
}

inline std::shared_ptr<const Model> parse(const tools::ModelContents& contents) {
  const auto bytes = tools::serialize(contents);
  return parse_model(bytes, "small.bin");
}

// The writer's "micro" preset (the smallest official-shaped model) with random weights of
// `seed`, parsed once per seed and shared by the tests of a program.
inline std::shared_ptr<const Model> micro_model(std::uint64_t seed = 7) {
  static std::map<std::uint64_t, std::shared_ptr<const Model>> models;
  std::shared_ptr<const Model>& model = models[seed];
  if (!model) {
    tools::ModelSpec spec;
    spec.dims = *tools::preset_dims("micro");
    spec.seed = seed;
    model = parse_model(tools::serialize(tools::make_model(spec)), "micro");
  }
  return model;
}

// A file in the test's temporary directory, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("earshot-" + std::to_string(::getpid()) + "-" + name)) {}
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace earshot::whisper::test
