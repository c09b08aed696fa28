// Runs files through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer: the ctest
// fuzz_replay.<target> replays the seed corpus and every regression input in the normal
// builds, where a crash, a sanitizer report or an escaped exception fails the test.
//   earshot_fuzz_replay_<target> DIR_OR_FILE...   (a missing directory is skipped)

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
        out.push_back(entry.path());
      }
    }
    std::sort(out.begin(), out.end());
  } else if (std::filesystem::is_regular_file(arg)) {
    out.push_back(arg);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& path : inputs(argv[i])) {
      std::ifstream in(path, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), bytes.size());
      // A copy sized exactly to the input, so that ASan sees a read past its end.
      std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
      LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
      ++runs;
    }
  }
  std::fprintf(stderr, "replayed %zu inputs\n", runs);
  return runs > 0 ? 0 : 1;
}
