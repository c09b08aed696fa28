#include "testing/paths.h"

#include <cstdlib>

namespace earshot::testing {

std::filesystem::path source_dir() {
  return EARSHOT_SOURCE_DIR;
}
std::filesystem::path binary_dir() {
  return EARSHOT_BINARY_DIR;
}

std::optional<std::filesystem::path> conformance_dir() {
  std::filesystem::path shared = source_dir().parent_path() / "shared";
  if (const char* env = std::getenv("EARSHOT_SHARED_DIR"); env != nullptr && *env != '\0') {
    shared = env;
  }
  auto dir = shared / "conformance";
  if (std::filesystem::exists(dir / "micro.ggml.bin")) return dir;
  return std::nullopt;
}

std::filesystem::path earshot_binary() {
  return binary_dir() / "src" / "cli" / "earshot";
}

}  // namespace earshot::testing
