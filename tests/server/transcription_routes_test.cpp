// The transcription routes' handlers called directly, without sockets: what a job answers
// when it fails, whatever the service was given.

#include "server/transcription_routes.h"

#include <future>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "testing/paths.h"
#include "testing/scripted_model.h"

namespace earshot::server {
namespace {

using namespace std::chrono_literals;

// Keeps the first complete answer.
class RecordingExchange final : public Exchange {
 public:
  void respond(Response&& response) override {
    if (!answered_.exchange(true)) answer_.set_value(std::move(response));
  }
  void start_stream(Response&&) override {}
  void write(std::string) override {}
  void finish() override {}
  std::shared_ptr<std::atomic<bool>> client_gone() const override { return gone_; }

  std::future<Response> answer() { return answer_.get_future(); }

 private:
  std::promise<Response> answer_;
  std::atomic<bool> answered_{false};
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
};

// A service whose only model's file does not exist: every job fails inside the engine call.
struct BrokenModelService {
  BrokenModelService()
      : models({ModelSpec{.name = "broken",
                          .path = testing::binary_dir() / "test-tmp" / "no-such-model.bin"}},
               "broken", 0ms, std::make_shared<spdlog::logger>("registry")),
        jobs({.workers = 1, .max_queued = 4}) {}
  ModelRegistry models;
  Watchdog watchdog;
  Metrics metrics;
  JobQueue jobs;
};

Response answer_to_stt(const std::shared_ptr<TranscriptionService>& service) {
  Router router;
  add_transcription_routes(router, service);
  const Route* route = router.find("/stt");
  EXPECT_NE(route, nullptr);
  Request req{http::verb::post, "/stt", 11};
  req.body() = testing::tone_wav(1.0);
  RequestContext ctx{.remote = "127.0.0.1:1", .token_label = "t", .path = "/stt", .query = ""};
  auto exchange = std::make_shared<RecordingExchange>();
  auto answer = exchange->answer();
  route->handler(req, ctx, exchange);
  EXPECT_EQ(answer.wait_for(30s), std::future_status::ready);
  return answer.get();
}

// A service built without a logger (log is optional in TranscriptionService) used to
// dereference it when a job failed: the failure must still be answered, as a 500.
TEST(TranscriptionRoutes, AJobFailureIsAnsweredWhenTheServiceHasNoLogger) {
  BrokenModelService parts;
  auto service = std::make_shared<TranscriptionService>();
  service->models = &parts.models;
  service->jobs = &parts.jobs;
  service->watchdog = &parts.watchdog;
  service->metrics = &parts.metrics;
  const Response res = answer_to_stt(service);
  EXPECT_EQ(res.result(), http::status::internal_server_error);
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["status"], "failed");
  EXPECT_NE(body["Error"].get<std::string>().find("no-such-model.bin"), std::string::npos)
      << res.body();
  parts.jobs.shutdown(std::chrono::steady_clock::now());
  parts.jobs.join();
}

// The same failure with a logger is logged through it.
TEST(TranscriptionRoutes, AJobFailureIsLoggedThroughTheServiceLogger) {
  BrokenModelService parts;
  auto sink = std::make_shared<std::ostringstream>();
  auto service = std::make_shared<TranscriptionService>();
  service->models = &parts.models;
  service->jobs = &parts.jobs;
  service->watchdog = &parts.watchdog;
  service->metrics = &parts.metrics;
  service->log = std::make_shared<spdlog::logger>(
      "routes", std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink));
  const Response res = answer_to_stt(service);
  EXPECT_EQ(res.result(), http::status::internal_server_error);
  parts.jobs.shutdown(std::chrono::steady_clock::now());
  parts.jobs.join();
  service->log->flush();
  EXPECT_NE(sink->str().find("transcription failed"), std::string::npos) << sink->str();
}

}  // namespace
}  // namespace earshot::server
