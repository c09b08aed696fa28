#pragma once

// The official ggml Whisper model files (the Hugging Face repository of whisper.cpp models)
// and where earshot keeps downloaded copies.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::models {

inline constexpr std::string_view kDefaultBaseUrl =
    "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";

struct CatalogEntry {
  std::string_view name;  // "base.en"
  std::string_view sha1;  // published SHA-1 of the file; empty when none is published
  std::string_view size;  // size on disk as published with the SHA-1; empty when unknown
};

// Every official model name (sizes, .en variants, quantized variants).
const std::vector<CatalogEntry>& catalog();
const CatalogEntry* find_in_catalog(std::string_view name);

// "ggml-<name>.bin".
std::string file_name_for(std::string_view name);

// Where downloads go: $EARSHOT_MODEL_DIR, else $XDG_CACHE_HOME/earshot/models, else
// ~/.cache/earshot/models. `configured` (from the config file) wins when non-empty.
std::filesystem::path cache_dir(const std::filesystem::path& configured = {});

// A model argument as users give it: an existing file path, or a model name whose file is
// in the cache dir. nullopt when neither exists.
std::optional<std::filesystem::path> resolve_model_path(const std::string& name_or_path,
                                                        const std::filesystem::path& dir);

// The voice-activity models `earshot models download` fetches besides Whisper's: kept in the
// same directory as "<name>.onnx".
struct VadCatalogEntry {
  std::string_view name;    // "silero-vad"
  std::string_view url;     // the official file
  std::string_view sha256;  // of that file
  std::string_view size;
};
const std::vector<VadCatalogEntry>& vad_catalog();
const VadCatalogEntry* find_in_vad_catalog(std::string_view name);
// The VAD model `earshot serve` and `transcribe` use unless told otherwise.
inline constexpr std::string_view kDefaultVadModel = "silero-vad";
// "<name>.onnx".
std::string vad_file_name_for(std::string_view name);
// A VAD model argument: an existing file path, or a name from vad_catalog() whose file is in
// `dir`. nullopt when neither exists.
std::optional<std::filesystem::path> resolve_vad_model_path(const std::string& name_or_path,
                                                            const std::filesystem::path& dir);

// Model files present in `dir`: {name, path, bytes}: Whisper's ggml files and the VAD models.
struct CachedModel {
  std::string name;
  std::filesystem::path path;
  std::uintmax_t bytes = 0;
};
std::vector<CachedModel> list_cached(const std::filesystem::path& dir);

}  // namespace earshot::models
