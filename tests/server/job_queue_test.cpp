#include "server/job_queue.h"

#include <future>

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

using namespace std::chrono_literals;

// Counts how each job ended.
struct Outcomes {
  std::atomic<int> ran{0};
  std::atomic<int> dropped{0};
  std::mutex m;
  std::vector<std::string> reasons;
};

Job counting_job(Outcomes& o, std::string token = "t", std::function<void(Job&)> body = {}) {
  Job job;
  job.token_label = std::move(token);
  auto cancel = job.cancel;
  job.run = [&o, body, cancel] {
    if (body) {
      Job view;
      view.cancel = cancel;
      body(view);
    }
    ++o.ran;
  };
  job.drop = [&o](const std::string& why) {
    ++o.dropped;
    std::lock_guard l(o.m);
    o.reasons.push_back(why);
  };
  return job;
}

// A job that blocks until released, to fill the workers.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
};

TEST(JobQueue, RunsEveryAcceptedJobExactlyOnce) {
  Outcomes o;
  {
    JobQueue q({.workers = 2, .max_queued = 1000, .max_jobs_per_token = 0});
    for (int i = 0; i < 200; ++i) ASSERT_EQ(q.submit(counting_job(o)), SubmitResult::kAccepted);
    while (o.ran.load() < 200) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(o.ran.load(), 200);
  EXPECT_EQ(o.dropped.load(), 0);
}

TEST(JobQueue, RefusesWhenTheQueueIsFull) {
  Outcomes o;
  Gate gate;
  JobQueue q({.workers = 1, .max_queued = 2, .max_jobs_per_token = 0});
  ASSERT_EQ(q.submit(counting_job(o, "t", [&](Job&) { gate.opened.wait(); })),
            SubmitResult::kAccepted);
  while (q.running() == 0) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(q.submit(counting_job(o)), SubmitResult::kAccepted);
  EXPECT_EQ(q.submit(counting_job(o)), SubmitResult::kAccepted);
  EXPECT_EQ(q.queued(), 2u);
  EXPECT_EQ(q.submit(counting_job(o)), SubmitResult::kQueueFull);
  gate.open.set_value();
  while (o.ran.load() < 3) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(q.submit(counting_job(o)), SubmitResult::kAccepted);
}

TEST(JobQueue, LimitsJobsPerToken) {
  Outcomes o;
  Gate gate;
  JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 2});
  auto blocked = [&](Job&) { gate.opened.wait(); };
  EXPECT_EQ(q.submit(counting_job(o, "alice", blocked)), SubmitResult::kAccepted);
  EXPECT_EQ(q.submit(counting_job(o, "alice", blocked)), SubmitResult::kAccepted);
  EXPECT_EQ(q.submit(counting_job(o, "alice")), SubmitResult::kTokenBusy);
  EXPECT_EQ(q.submit(counting_job(o, "bob")), SubmitResult::kAccepted);
  gate.open.set_value();
  while (o.ran.load() < 3) std::this_thread::sleep_for(1ms);
  // Finished jobs no longer count against the token.
  EXPECT_EQ(q.submit(counting_job(o, "alice")), SubmitResult::kAccepted);
}

TEST(JobQueue, ACancelledQueuedJobIsDroppedNotRun) {
  Outcomes o;
  Gate gate;
  JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 0});
  q.submit(counting_job(o, "t", [&](Job&) { gate.opened.wait(); }));
  auto job = counting_job(o);
  auto cancel = job.cancel;
  q.submit(std::move(job));
  cancel->store(true);  // its client went away while it waited
  gate.open.set_value();
  while (o.ran.load() + o.dropped.load() < 2) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(o.ran.load(), 1);
  EXPECT_EQ(o.dropped.load(), 1);
}

TEST(JobQueue, ShutdownRunsQueuedJobsBeforeTheDeadline) {
  Outcomes o;
  JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 0});
  for (int i = 0; i < 5; ++i)
    q.submit(counting_job(o, "t", [](Job&) { std::this_thread::sleep_for(10ms); }));
  q.shutdown(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(q.submit(counting_job(o)), SubmitResult::kShuttingDown);
  q.join();
  EXPECT_EQ(o.ran.load(), 5);
  EXPECT_EQ(o.dropped.load(), 0);
}

TEST(JobQueue, ShutdownDeadlineCancelsRunningAndDropsQueued) {
  Outcomes o;
  std::atomic<bool> saw_cancel{false};
  JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 0});
  // A long job that stops when cancelled, as the engine does between decoder steps.
  q.submit(counting_job(o, "t", [&](Job& self) {
    while (!self.cancel->load()) std::this_thread::sleep_for(1ms);
    saw_cancel = true;
  }));
  for (int i = 0; i < 3; ++i) q.submit(counting_job(o));
  while (q.running() == 0) std::this_thread::sleep_for(1ms);
  q.shutdown(std::chrono::steady_clock::now() + 100ms);
  q.join();
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_EQ(o.ran.load(), 1);
  EXPECT_EQ(o.dropped.load(), 3);
  for (const auto& r : o.reasons) EXPECT_EQ(r, "the server is shutting down");
}

TEST(JobQueue, QueuedJobsAreDroppedAtTheDeadlineEvenWhileTheWorkerIsBusy) {
  Outcomes o;
  Gate gate;
  JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 0});
  // A running job slow to notice its cancellation (an encoder pass between decoder steps).
  q.submit(counting_job(o, "t", [&](Job&) { gate.opened.wait(); }));
  for (int i = 0; i < 3; ++i) q.submit(counting_job(o));
  while (q.running() == 0) std::this_thread::sleep_for(1ms);
  q.shutdown(std::chrono::steady_clock::now() + 50ms);
  // The queued jobs are answered at the deadline, not when the worker is free again.
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (o.dropped.load() < 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(o.dropped.load(), 3);
  EXPECT_EQ(o.ran.load(), 0);
  EXPECT_EQ(q.queued(), 0u);
  gate.open.set_value();
  q.join();
  EXPECT_EQ(o.ran.load(), 1);
  EXPECT_EQ(o.dropped.load(), 3);
}

TEST(JobQueue, AThrowingJobIsAnsweredByDrop) {
  Outcomes o;
  {
    JobQueue q({.workers = 1, .max_queued = 10, .max_jobs_per_token = 0});
    Job job = counting_job(o);
    job.run = [] { throw std::runtime_error("boom"); };
    q.submit(std::move(job));
    q.submit(counting_job(o));
    while (o.ran.load() + o.dropped.load() < 2) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(o.dropped.load(), 1);
  EXPECT_EQ(o.ran.load(), 1);
}

}  // namespace
}  // namespace earshot::server
