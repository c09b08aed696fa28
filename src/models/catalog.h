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

// Model files present in `dir`: {name, path, bytes}.
struct CachedModel {
  std::string name;
  std::filesystem::path path;
  std::uintmax_t bytes = 0;
};
std::vector<CachedModel> list_cached(const std::filesystem::path& dir);

}  // namespace earshot::models
