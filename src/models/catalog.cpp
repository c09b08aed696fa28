#include "models/catalog.h"

#include <algorithm>
#include <cstdlib>

namespace earshot::models {

const std::vector<CatalogEntry>& catalog() {
  // SHA-1 values as published in whisper.cpp's models/README.md; the other files are
  // verified against the SHA-256 the server publishes for them (see download.cpp).
  static const std::vector<CatalogEntry> entries = {
      {"tiny", "bd577a113a864445d4c299885e0cb97d4ba92b5f", "75 MiB"},
      {"tiny.en", "c78c86eb1a8faa21b369bcd33207cc90d64ae9df", "75 MiB"},
      {"tiny-q5_1", "", ""},
      {"tiny.en-q5_1", "", ""},
      {"tiny-q8_0", "", ""},
      {"base", "465707469ff3a37a2b9b8d8f89f2f99de7299dac", "142 MiB"},
      {"base.en", "137c40403d78fd54d454da0f9bd998f78703390c", "142 MiB"},
      {"base-q5_1", "", ""},
      {"base.en-q5_1", "", ""},
      {"base-q8_0", "", ""},
      {"small", "55356645c2b361a969dfd0ef2c5a50d530afd8d5", "466 MiB"},
      {"small.en", "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022", "466 MiB"},
      {"small-q5_1", "", ""},
      {"small.en-q5_1", "", ""},
      {"small-q8_0", "", ""},
      {"medium", "fd9727b6e1217c2f614f9b698455c4ffd82463b4", "1.5 GiB"},
      {"medium.en", "8c30f0e44ce9560643ebd10bbe50cd20eafd3723", "1.5 GiB"},
      {"medium-q5_0", "", ""},
      {"medium.en-q5_0", "", ""},
      {"medium-q8_0", "", ""},
      {"large-v1", "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299", "2.9 GiB"},
      {"large-v2", "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6", "2.9 GiB"},
      {"large-v2-q5_0", "00e39f2196344e901b3a2bd5814807a769bd1630", "1.1 GiB"},
      {"large-v2-q8_0", "", ""},
      {"large-v3", "ad82bf6a9043ceed055076d0fd39f5f186ff8062", "2.9 GiB"},
      {"large-v3-q5_0", "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de", "1.1 GiB"},
      {"large-v3-turbo", "", ""},
      {"large-v3-turbo-q5_0", "", ""},
      {"large-v3-turbo-q8_0", "", ""},
  };
  return entries;
}

const CatalogEntry* find_in_catalog(std::string_view name) {
  const auto& c = catalog();
  auto it = std::find_if(c.begin(), c.end(), [&](const CatalogEntry& e) { return e.name == name; });
  return it == c.end() ? nullptr : &*it;
}

const std::vector<VadCatalogEntry>& vad_catalog() {
  // Silero VAD v6.2.1's ONNX export (MIT licence), whose 16 kHz network has the v5 shape
  // that whisper/features/silero reads; the SHA-256 is that of the file at this tag.
  static const std::vector<VadCatalogEntry> entries = {
      {"silero-vad",
       "https://github.com/snakers4/silero-vad/raw/v6.2.1/src/silero_vad/data/silero_vad.onnx",
       "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", "2.2 MiB"},
  };
  return entries;
}

const VadCatalogEntry* find_in_vad_catalog(std::string_view name) {
  const auto& c = vad_catalog();
  auto it =
      std::find_if(c.begin(), c.end(), [&](const VadCatalogEntry& e) { return e.name == name; });
  return it == c.end() ? nullptr : &*it;
}

std::string vad_file_name_for(std::string_view name) {
  return std::string(name) + ".onnx";
}

std::optional<std::filesystem::path> resolve_vad_model_path(const std::string& name_or_path,
                                                            const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec))
    return std::filesystem::path(name_or_path);
  if (find_in_vad_catalog(name_or_path) != nullptr) {
    const auto p = dir / vad_file_name_for(name_or_path);
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

std::string file_name_for(std::string_view name) {
  return "ggml-" + std::string(name) + ".bin";
}

std::filesystem::path cache_dir(const std::filesystem::path& configured) {
  if (!configured.empty()) return configured;
  if (const char* d = std::getenv("EARSHOT_MODEL_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    return std::filesystem::path(x) / "earshot" / "models";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home != '\0' ? home : ".") / ".cache" /
         "earshot" / "models";
}

std::optional<std::filesystem::path> resolve_model_path(const std::string& name_or_path,
                                                        const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec))
    return std::filesystem::path(name_or_path);
  // A bare name: look for the downloaded file.
  if (name_or_path.find('/') == std::string::npos) {
    const auto p = dir / file_name_for(name_or_path);
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

std::vector<CachedModel> list_cached(const std::filesystem::path& dir) {
  std::vector<CachedModel> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto f = e.path().filename().string();
    if (!e.is_regular_file(ec)) continue;
    if (f.starts_with("ggml-") && f.ends_with(".bin")) {
      out.push_back({f.substr(5, f.size() - 9), e.path(), e.file_size(ec)});
    } else if (f.ends_with(".onnx") && find_in_vad_catalog(f.substr(0, f.size() - 5)) != nullptr) {
      out.push_back({f.substr(0, f.size() - 5), e.path(), e.file_size(ec)});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CachedModel& a, const CachedModel& b) { return a.name < b.name; });
  return out;
}

}  // namespace earshot::models
