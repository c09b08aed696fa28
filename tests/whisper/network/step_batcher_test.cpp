// StepBatcher: decoder steps of concurrent WhisperStates run as one step give exactly the
// logits each state gets alone; the batcher's own rules (row cap, leader's wait, leaving,
// errors) with a recording executor.

#include "whisper/network/step_batcher.h"

#include <chrono>
#include <latch>
#include <random>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "testing/small_model.h"
#include "whisper/kernels/gemv.h"
#include "whisper/network/state.h"

namespace earshot::whisper {
namespace {

using namespace std::chrono_literals;

std::vector<float> random_mel(const ModelDims& dims, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.5f);
  std::vector<float> mel(static_cast<std::size_t>(dims.n_mels * 2 * dims.n_audio_ctx));
  for (auto& v : mel) v = dist(rng);
  return mel;
}

// What one transcription does in a window, recording every step's logits: a prompt of three
// tokens, then either greedy steps of one token, or `beams` forked sequences stepped together
// and reordered (a beam search's calls).
struct Script {
  std::uint32_t mel_seed = 0;
  std::vector<std::int32_t> prompt;
  std::vector<std::int32_t> steps;  // one token per step (each sequence's, when beams > 0)
  int beams = 0;
};

// `joined`, when given, is awaited after the prompt's step: every state is then a member.
std::vector<std::vector<float>> run_script(const Model& model, const Script& script,
                                           StepBatcher* batcher, std::latch* joined) {
  WhisperState state(model, 1, batcher);
  state.encode(random_mel(model.dims(), script.mel_seed));
  std::vector<std::vector<float>> out;
  std::vector<float> logits;
  state.decode(script.prompt, /*all_rows=*/false, logits);
  out.push_back(logits);
  if (joined != nullptr) joined->arrive_and_wait();
  if (script.beams == 0) {
    for (const std::int32_t t : script.steps) {
      state.decode(std::vector<std::int32_t>{t}, false, logits);
      out.push_back(logits);
    }
    return out;
  }
  state.fork(script.beams, static_cast<int>(script.steps.size()));
  std::vector<int> sources(static_cast<std::size_t>(script.beams));
  for (std::size_t i = 0; i < script.steps.size(); ++i) {
    std::vector<std::int32_t> tokens;
    for (int b = 0; b < script.beams; ++b) tokens.push_back((script.steps[i] + 7 * b) % 300);
    state.decode_batch(tokens, logits);
    out.push_back(logits);
    for (int b = 0; b < script.beams; ++b) {
      sources[static_cast<std::size_t>(b)] = (b + static_cast<int>(i)) % script.beams;
    }
    state.reorder(sources);
  }
  return out;
}

class BatchedStepsTest : public ::testing::TestWithParam<Precision> {};

TEST_P(BatchedStepsTest, EqualTheStepsEachStateTakesAlone) {
  const auto contents = test::small_contents(tools::kTypeF16);
  const auto bytes = tools::serialize(contents);
  const auto model = parse_model(bytes, "small.bin", nullptr, GetParam());
  const std::vector<Script> scripts = {
      {.mel_seed = 1, .prompt = {5, 6, 7}, .steps = {10, 11, 250, 3, 4, 5, 6, 7}, .beams = 0},
      {.mel_seed = 2, .prompt = {8, 9, 1}, .steps = {299, 0, 17, 42, 42, 42, 9, 1}, .beams = 0},
      {.mel_seed = 3, .prompt = {2, 3, 4}, .steps = {100, 101, 102}, .beams = 3},
  };
  std::vector<std::vector<std::vector<float>>> alone;
  for (const auto& s : scripts) alone.push_back(run_script(*model, s, nullptr, nullptr));

  // Once every state is a member, a leader waits for each member's step, and members come
  // back within microseconds. (A member held at the latch stalls a leader for the whole wait,
  // which is why it is not longer.)
  StepBatcher batcher(kMaxGemvRows, std::chrono::microseconds(500ms), 2);
  std::vector<std::vector<std::vector<float>>> together(scripts.size());
  std::latch joined(static_cast<std::ptrdiff_t>(scripts.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < scripts.size(); ++i) {
    threads.emplace_back(
        [&, i] { together[i] = run_script(*model, scripts[i], &batcher, &joined); });
  }
  for (auto& t : threads) t.join();

  for (std::size_t i = 0; i < scripts.size(); ++i) {
    ASSERT_EQ(together[i].size(), alone[i].size());
    for (std::size_t step = 0; step < alone[i].size(); ++step) {
      // Bit for bit: no row's arithmetic depends on the other rows of its batch.
      EXPECT_EQ(together[i][step], alone[i][step]) << "script " << i << " step " << step;
    }
  }
  const auto stats = batcher.stats();
  std::size_t steps = 0;
  for (const auto& s : alone) steps += s.size();
  EXPECT_EQ(stats.items, steps);
  EXPECT_GE(stats.max_items, 2u);
  EXPECT_LT(stats.batches, stats.items);
}

INSTANTIATE_TEST_SUITE_P(Precisions, BatchedStepsTest,
                         ::testing::Values(Precision::kFp32, Precision::kInt8));

// An executor that records each batch's members and rows, and throws for a payload of -1.
struct Recorder {
  std::mutex mutex;
  std::vector<std::vector<int>> batches;  // payload values per batch
};
Recorder* recorder = nullptr;

void record(std::span<StepBatcher::Item* const> items, StepBatcher::Resources& resources) {
  std::vector<int> batch;
  for (auto* item : items) batch.push_back(*static_cast<int*>(item->payload));
  {
    std::lock_guard lock(recorder->mutex);
    recorder->batches.push_back(batch);
  }
  EXPECT_GE(resources.workers.threads(), 1);
  for (const int v : batch) {
    if (v == -1) throw std::runtime_error("executor failed");
  }
}

StepBatcher::Item item_for(const void* member, std::int64_t rows, int* payload) {
  return {
      .member = member, .rows = rows, .threads = 1, .payload = payload, .done = false, .error = {}};
}

TEST(StepBatcher, BatchesNeverExceedTheRowCapAndAnOversizedItemRunsAlone) {
  Recorder r;
  recorder = &r;
  StepBatcher batcher(8, std::chrono::microseconds(50ms), 2);
  // Three members submitting steps of 5 rows: no two fit in 8 rows together. A fourth submits
  // 12 rows once, over the cap.
  std::vector<int> payloads = {5, 5, 5, 12};
  std::latch start(4);
  std::vector<std::thread> threads;
  for (int m = 0; m < 4; ++m) {
    threads.emplace_back([&, m] {
      start.arrive_and_wait();
      const int rounds = m == 3 ? 1 : 4;
      for (int i = 0; i < rounds; ++i) {
        auto item =
            item_for(&payloads[static_cast<std::size_t>(m)], payloads[static_cast<std::size_t>(m)],
                     &payloads[static_cast<std::size_t>(m)]);
        batcher.submit(item, &record);
        EXPECT_TRUE(item.done);
      }
      batcher.leave(&payloads[static_cast<std::size_t>(m)]);
    });
  }
  for (auto& t : threads) t.join();
  std::size_t items = 0;
  for (const auto& b : r.batches) {
    int rows = 0;
    for (const int v : b) rows += v;
    EXPECT_TRUE(rows <= 8 || b.size() == 1) << rows << " rows in " << b.size() << " items";
    items += b.size();
  }
  EXPECT_EQ(items, 13u);
  EXPECT_EQ(batcher.stats().items, 13u);
  recorder = nullptr;
}

TEST(StepBatcher, AnErrorReachesEveryItemOfItsBatchAndTheNextBatchRuns) {
  Recorder r;
  recorder = &r;
  StepBatcher batcher(8, std::chrono::microseconds(10s), 2);
  int good = 1;
  int bad = -1;
  std::latch start(2);
  std::atomic<int> failures{0};
  auto member = [&](int* payload) {
    start.arrive_and_wait();
    for (int i = 0; i < 3; ++i) {
      auto item = item_for(payload, 1, payload);
      try {
        batcher.submit(item, &record);
      } catch (const std::runtime_error&) {
        ++failures;
      }
    }
    batcher.leave(payload);
  };
  std::thread a(member, &good);
  std::thread b(member, &bad);
  a.join();
  b.join();
  // Every batch with the failing member's item failed as a whole; the good member's items
  // alone did not.
  int expected = 0;
  for (const auto& batch : r.batches) {
    const bool has_bad = std::find(batch.begin(), batch.end(), -1) != batch.end();
    if (has_bad) expected += static_cast<int>(batch.size());
  }
  EXPECT_EQ(failures.load(), expected);
  EXPECT_GE(failures.load(), 3);
  recorder = nullptr;
}

// Threads each batch ran on, as the executor saw them.
std::vector<int>* seen_threads = nullptr;
void record_threads(std::span<StepBatcher::Item* const>, StepBatcher::Resources& resources) {
  seen_threads->push_back(resources.workers.threads());
}

// Batches lent 1, 3, 2, 5 (capped at 4) and 1 cores run on that many threads, out of one
// pool that grows to the largest and no further (the batcher used to keep a pool per
// distinct thread count, never freed).
TEST(StepBatcher, BatchesRunOnTheThreadsTheyAreLentFromOneBoundedPool) {
  std::vector<int> seen;
  seen_threads = &seen;
  StepBatcher batcher(8, std::chrono::microseconds(0), 4);
  EXPECT_EQ(batcher.pool_threads(), 0);
  int member = 0;
  std::vector<int> pools;
  for (const int lent : {1, 3, 2, 5, 1}) {
    StepBatcher::Item item{.member = &member,
                           .rows = 1,
                           .threads = lent,
                           .payload = nullptr,
                           .done = false,
                           .error = {}};
    batcher.submit(item, &record_threads);
    pools.push_back(batcher.pool_threads());
  }
  batcher.leave(&member);
  EXPECT_EQ(seen, (std::vector<int>{1, 3, 2, 4, 1}));
  EXPECT_EQ(pools, (std::vector<int>{1, 3, 3, 4, 4}));
  seen_threads = nullptr;
}

TEST(StepBatcher, LeadersDoNotWaitForAMemberThatLeft) {
  Recorder r;
  recorder = &r;
  // A 30 s wait: a leader waiting for the member that left would take that long.
  StepBatcher batcher(8, std::chrono::microseconds(30s), 2);
  int a = 1;
  int b = 2;
  std::latch b_stepped(1);
  std::latch a_ready(1);
  std::thread other([&] {
    auto item = item_for(&b, 1, &b);
    batcher.submit(item, &record);  // alone: b is the only member
    b_stepped.count_down();
    a_ready.wait();
    // a is (about to be) waiting for b's next step, which never comes: b leaves instead.
    std::this_thread::sleep_for(200ms);
    batcher.leave(&b);
  });
  b_stepped.wait();
  a_ready.count_down();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto next = item_for(&a, 1, &a);
    batcher.submit(next, &record);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  other.join();
  batcher.leave(&a);
  EXPECT_EQ(batcher.stats().items, 6u);
  EXPECT_EQ(r.batches.size(), 6u);  // nothing ran together: b never stepped again
  recorder = nullptr;
}

}  // namespace
}  // namespace earshot::whisper
