#include "server/model_registry.h"

#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "model_writer/model_writer.h"
#include "testing/paths.h"

namespace earshot::server {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

std::filesystem::path writer_model(const std::string& name) {
  const auto dir = testing::binary_dir() / "test-tmp" / "registry";
  std::filesystem::create_directories(dir);
  const auto path = dir / ("ggml-" + name + ".bin");
  if (!std::filesystem::exists(path)) {
    tools::ModelSpec spec;
    spec.dims = *tools::preset_dims("micro");
    spec.seed = 3;
    // Parallel test processes share the file: write privately, rename into place.
    const auto temp = path.string() + ".tmp." + std::to_string(::getpid());
    tools::write_model_file(tools::make_model(spec), temp);
    std::filesystem::rename(temp, path);
  }
  return path;
}

TEST(ModelRegistry, ResolvesNamesAndTheWhisper1Alias) {
  ModelRegistry r({{"a", "/x/a.bin"}, {"b", "/x/b.bin"}}, "b", 0ms, quiet());
  EXPECT_EQ(r.default_name(), "b");
  EXPECT_EQ(r.resolve(""), "b");
  EXPECT_EQ(r.resolve("whisper-1"), "b");
  EXPECT_EQ(r.resolve("a"), "a");
  EXPECT_FALSE(r.resolve("c"));
  EXPECT_EQ(r.names(), (std::vector<std::string>{"a", "b"}));
  // Without an explicit default the first model given is the default.
  ModelRegistry first({{"z", "/x/z.bin"}, {"a", "/x/a.bin"}}, "", 0ms, quiet());
  EXPECT_EQ(first.default_name(), "z");
  ModelRegistry none({}, "", 0ms, quiet());
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.resolve("whisper-1"));
  EXPECT_THROW(none.acquire(""), Error);
}

TEST(ModelRegistry, LoadsEachModelInItsOwnPrecision) {
  const auto path = writer_model("p");
  ModelRegistry r(
      {{"exact", path, Precision::kFp32}, {"fast", path, Precision::kInt8}, {"d", path}}, "exact",
      0ms, quiet());
  EXPECT_EQ(model_precision(*r.acquire("exact")), Precision::kFp32);
  EXPECT_EQ(model_precision(*r.acquire("fast")), Precision::kInt8);
  EXPECT_EQ(model_precision(*r.acquire("d")), Precision::kFp32);  // unset: fp32
}

TEST(ModelRegistry, LoadsLazilyOnceAndSharesTheModel) {
  ModelRegistry r({{"m", writer_model("m")}}, "", 0ms, quiet());
  EXPECT_EQ(r.state("m"), ModelRegistry::State::kUnloaded);
  std::vector<std::future<std::shared_ptr<const Model>>> loads;
  for (int i = 0; i < 4; ++i)
    loads.push_back(std::async(std::launch::async, [&] { return r.acquire("m"); }));
  std::vector<std::shared_ptr<const Model>> models;
  for (auto& f : loads) models.push_back(f.get());
  for (const auto& m : models) EXPECT_EQ(m.get(), models[0].get());  // one load, shared
  EXPECT_EQ(r.state("m"), ModelRegistry::State::kLoaded);
  EXPECT_GT(r.last_load_seconds(), 0.0);
  EXPECT_EQ(model_dims(*models[0]).n_text_state, 64);
}

TEST(ModelRegistry, UnloadsAfterTheIdleTime) {
  ModelRegistry r({{"m", writer_model("m")}}, "", 1000ms, quiet());
  auto held = r.acquire("m");
  EXPECT_EQ(r.unload_idle(), 0u);
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(r.unload_idle(), 1u);
  EXPECT_EQ(r.state("m"), ModelRegistry::State::kUnloaded);
  // A job still holding it keeps using it; the next request loads it again.
  EXPECT_EQ(model_dims(*held).n_mels, 80);
  EXPECT_NE(r.acquire("m"), nullptr);
  EXPECT_EQ(r.state("m"), ModelRegistry::State::kLoaded);
  ModelRegistry never({{"m", writer_model("m")}}, "", 0ms, quiet());
  never.acquire("m");
  EXPECT_EQ(never.unload_idle(), 0u);
}

TEST(ModelRegistry, ABrokenFileFailsAndIsRetriedLater) {
  const auto path = testing::binary_dir() / "test-tmp" / "registry" / "broken.bin";
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "not a model";
  ModelRegistry r({{"broken", path}}, "", 0ms, quiet());
  try {
    r.acquire("broken");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be loaded"), std::string::npos);
  }
  EXPECT_EQ(r.state("broken"), ModelRegistry::State::kFailed);
  std::filesystem::copy_file(writer_model("m"), path,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(r.acquire("broken"), nullptr);
  EXPECT_EQ(r.state("broken"), ModelRegistry::State::kLoaded);
}

TEST(ModelRegistry, NameFromPath) {
  EXPECT_EQ(model_name_from_path("/m/ggml-base.en.bin"), "base.en");
  EXPECT_EQ(model_name_from_path("mine.bin"), "mine");
  EXPECT_EQ(model_name_from_path("/m/large-v3-turbo"), "large-v3-turbo");
}

}  // namespace
}  // namespace earshot::server
