#pragma once

#include <filesystem>
#include <optional>

namespace earshot::testing {

// The repository root and the build tree this test binary belongs to.
std::filesystem::path source_dir();
std::filesystem::path binary_dir();

// ../shared/conformance from the repository root, or $EARSHOT_SHARED_DIR/conformance;
// nullopt when absent (a user's clone has no ../shared): such tests GTEST_SKIP.
std::optional<std::filesystem::path> conformance_dir();

// The `earshot` executable in the build tree.
std::filesystem::path earshot_binary();

}  // namespace earshot::testing

// Skips the current test when the conformance data is absent.
#define EARSHOT_REQUIRE_CONFORMANCE(var)                                      \
  const auto var##_opt = ::earshot::testing::conformance_dir();               \
  if (!var##_opt) GTEST_SKIP() << "../shared/conformance is absent: skipped"; \
  const std::filesystem::path var = *var##_opt
