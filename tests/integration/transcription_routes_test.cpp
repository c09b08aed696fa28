// The transcription routes over real HTTP against `earshot serve` with a scripted model
// (tests/testing/scripted_model.h): every window decodes "<|0.00|> T <|2.80|>", so results
// are known exactly and fast.

#include <signal.h>

#include <fstream>
#include <future>
#include <regex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kToken = {{"Authorization", "Token token1"}};
const Headers kBearer = {{"Authorization", "Bearer token1"}};

const ScriptedModel& scripted() {
  static const ScriptedModel model = [] {
    const auto dir = binary_dir() / "test-tmp";
    std::filesystem::create_directories(dir);
    return write_scripted_model(dir / "ggml-scripted.bin");
  }();
  return model;
}

// The log lines of breaches of `limit` with its configured value, once `expected` are there.
std::vector<std::string> breaches(const ServerProcess& server, const std::string& limit,
                                  const std::string& configured, std::size_t expected) {
  const auto marker = limit_breach_marker(limit, configured);
  for (int i = 0; i < 100 && server.log_lines(marker).size() < expected; ++i)
    std::this_thread::sleep_for(20ms);
  const auto lines = server.log_lines(marker);
  for (const auto& line : lines) {
    EXPECT_NE(line.find("127.0.0.1:"), std::string::npos) << line;
    EXPECT_EQ(line.find("token1"), std::string::npos) << line;
  }
  return lines;
}

std::string trimmed(std::string s) {
  const auto a = s.find_first_not_of(" \n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \n") - a + 1);
}

std::string config_with(const std::string& engine, const std::string& http_extra = "") {
  json models = {{"scripted", scripted().path.string()}};
  // Bodies up to 30 minutes of 16 kHz s16 audio.
  std::string http = R"("host": "127.0.0.1", "port": 0, "request_max_size": 100000000,
                        "allowed_tokens": ["token1", {"label": "other", "token": "token2"}])";
  if (!http_extra.empty()) http += ", " + http_extra;
  return R"({"server": {"http": {)" + http + R"(}}, "models": )" + models.dump() +
         R"(, "engine": {)" + engine + "}}";
}

// A multipart/form-data body.
struct Form {
  std::string boundary = "earshot-test-boundary";
  std::string body;
  Form& field(const std::string& name, const std::string& value) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
    return *this;
  }
  Form& file(const std::string& name, const std::string& bytes,
             const std::string& filename = "audio.wav") {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
            "\"; filename=\"" + filename + "\"\r\nContent-Type: audio/wav\r\n\r\n" + bytes + "\r\n";
    return *this;
  }
  std::string finish() const { return body + "--" + boundary + "--\r\n"; }
  Headers headers(const Headers& auth) const {
    Headers h = auth;
    h.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
    return h;
  }
};

class Routes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(
        config_with(R"("workers": 1, "max_queued_jobs": 64, "max_jobs_per_token": 0)"));
    audio_ = tone_wav(3.0);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  unsigned short port() const { return server_->port(); }
  HttpResult post_form(const std::string& path, const Form& form) {
    return http_request(port(), "POST", path, form.headers(kBearer), form.finish());
  }
  static ServerProcess* server_;
  static std::string audio_;
};
ServerProcess* Routes::server_ = nullptr;
std::string Routes::audio_;

TEST_F(Routes, SttAnswersTheOriginalShapeToAGetWithARawBody) {
  const auto r = http_request(port(), "GET", "/stt", kToken, audio_);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["text"], trimmed(scripted().text));
  ASSERT_TRUE(j["proc_duration"].is_number());
  EXPECT_GE(j["proc_duration"].get<double>(), 0.0);
  // Seconds with at most 3 decimals.
  const auto d = j["proc_duration"].get<double>();
  EXPECT_NEAR(d * 1000, std::round(d * 1000), 1e-6);
  EXPECT_EQ(j.size(), 3u);
}

TEST_F(Routes, SttTakesPostAndQueryOptions) {
  const auto r = http_request(
      port(), "POST", "/stt?response_format=srt&language=en&task=transcribe", kToken, audio_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "1\n00:00:00,000 --> 00:00:02,800\n" + trimmed(scripted().text) + "\n\n");
}

// A mono PCM WAV of one second whose header declares `rate` Hz and `bits` per sample, each
// sample one byte (block align 1).
std::string pcm_wav_header_claiming(std::uint32_t rate, std::uint16_t bits) {
  std::string w = "RIFF";
  const auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) w.push_back(static_cast<char>(v >> (8 * i)));
  };
  const auto u16 = [&](std::uint16_t v) {
    w.push_back(static_cast<char>(v));
    w.push_back(static_cast<char>(v >> 8));
  };
  const std::uint32_t samples = 16000;
  u32(36 + samples);
  w += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(rate);
  u32(16000);  // byte rate
  u16(1);      // block align
  u16(bits);
  w += "data";
  u32(samples);
  w.append(samples, '\x40');
  return w;
}

TEST_F(Routes, WavHeadersWithoutARateOrWholeByteSamplesAre400OnBothRoutes) {
  for (const auto& [wav, what] :
       {std::pair{pcm_wav_header_claiming(0, 8), std::string("0 Hz")},
        std::pair{pcm_wav_header_claiming(16000, 7), std::string("7 bits per sample")}}) {
    const auto stt = http_request(port(), "POST", "/stt", kToken, wav);
    EXPECT_EQ(stt.status, 400) << what << ": " << stt.body;
    const auto original = json::parse(stt.body);
    EXPECT_EQ(original["status"], "failed");
    EXPECT_NE(original["Error"].get<std::string>().find("cannot be decoded"), std::string::npos)
        << stt.body;
    Form form;
    form.file("file", wav).field("model", "whisper-1");
    const auto openai = post_form("/v1/audio/transcriptions", form);
    EXPECT_EQ(openai.status, 400) << what << ": " << openai.body;
    const auto error = json::parse(openai.body)["error"];
    EXPECT_EQ(error["code"], "invalid_audio");
    EXPECT_EQ(error["type"], "invalid_request_error");
  }
  // The 7-bit header says so.
  const auto r = http_request(port(), "POST", "/stt", kToken, pcm_wav_header_claiming(16000, 7));
  EXPECT_NE(r.body.find("7 bits per sample"), std::string::npos) << r.body;
}

TEST_F(Routes, SttErrorsUseTheOriginalShape) {
  auto r = http_request(port(), "POST", "/stt", kToken, "this is not audio at all, just text");
  EXPECT_EQ(r.status, 400);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_NE(j["Error"].get<std::string>().find("cannot be decoded"), std::string::npos);

  r = http_request(port(), "POST", "/stt", kToken, "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["status"], "failed");

  r = http_request(port(), "POST", "/stt?colour=red", kToken, audio_);
  EXPECT_EQ(r.status, 400);
  r = http_request(port(), "POST", "/stt?task=dance", kToken, audio_);
  EXPECT_EQ(r.status, 400);
  r = http_request(port(), "POST", "/stt?response_format=docx", kToken, audio_);
  EXPECT_EQ(r.status, 400);
  r = http_request(port(), "POST", "/stt", {}, audio_);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["Error"], "Missing authorization header");
}

TEST_F(Routes, OpenAIResponseFormats) {
  const std::string text = trimmed(scripted().text);
  struct Case {
    std::string format;
    std::string content_type;
  };
  for (const Case& c : std::vector<Case>{{"json", "application/json"},
                                         {"text", "text/plain; charset=utf-8"},
                                         {"srt", "text/plain; charset=utf-8"},
                                         {"verbose_json", "application/json"},
                                         {"vtt", "text/plain; charset=utf-8"}}) {
    Form form;
    form.file("file", audio_).field("model", "whisper-1").field("response_format", c.format);
    const auto r = post_form("/v1/audio/transcriptions", form);
    ASSERT_EQ(r.status, 200) << c.format << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), c.content_type) << c.format;
    if (c.format == "json") {
      EXPECT_EQ(json::parse(r.body)["text"], text);
    } else if (c.format == "text") {
      EXPECT_EQ(trimmed(r.body), text);
    } else if (c.format == "srt") {
      EXPECT_NE(r.body.find("00:00:00,000 --> 00:00:02,800"), std::string::npos) << r.body;
    } else if (c.format == "vtt") {
      EXPECT_EQ(r.body.rfind("WEBVTT", 0), 0u);
      EXPECT_NE(r.body.find("00:00:00.000 --> 00:00:02.800"), std::string::npos) << r.body;
    } else {
      const auto j = json::parse(r.body);
      EXPECT_EQ(j["task"], "transcribe");
      EXPECT_NEAR(j["duration"].get<double>(), 3.0, 1e-6);
      ASSERT_EQ(j["segments"].size(), 1u);
      const auto& s = j["segments"][0];
      EXPECT_EQ(s["id"], 0);
      EXPECT_NEAR(s["start"].get<double>(), 0.0, 1e-9);
      EXPECT_NEAR(s["end"].get<double>(), 2.8, 1e-9);
      EXPECT_EQ(trimmed(s["text"].get<std::string>()), text);
      for (const char* k : {"seek", "tokens", "temperature", "avg_logprob", "compression_ratio",
                            "no_speech_prob"}) {
        EXPECT_TRUE(s.contains(k)) << k;
      }
    }
  }
}

TEST_F(Routes, TranslationsReportTheTask) {
  Form form;
  form.file("file", audio_).field("model", "scripted").field("response_format", "verbose_json");
  const auto r = post_form("/v1/audio/translations", form);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["task"], "translate");
}

TEST_F(Routes, WordGranularityReturnsWordsAsOpenAI) {
  Form words_only;
  words_only.file("file", audio_)
      .field("model", "scripted")
      .field("response_format", "verbose_json")
      .field("timestamp_granularities[]", "word");
  auto r = post_form("/v1/audio/transcriptions", words_only);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_TRUE(j["words"].is_array()) << r.body;
  ASSERT_FALSE(j["words"].empty()) << r.body;
  for (const auto& w : j["words"]) {
    EXPECT_TRUE(w["word"].is_string());
    EXPECT_LE(w["start"].get<double>(), w["end"].get<double>());
  }
  EXPECT_FALSE(j.contains("segments")) << "only words were asked for";

  Form both;
  both.file("file", audio_)
      .field("model", "scripted")
      .field("response_format", "verbose_json")
      .field("timestamp_granularities[]", "word")
      .field("timestamp_granularities[]", "segment");
  r = post_form("/v1/audio/transcriptions", both);
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_FALSE(j["words"].empty());
  ASSERT_FALSE(j["segments"].empty());
  EXPECT_TRUE(j["segments"][0]["words"].is_array());

  Form bad;
  bad.file("file", audio_).field("model", "scripted").field("timestamp_granularities[]", "char");
  r = post_form("/v1/audio/transcriptions", bad);
  EXPECT_EQ(r.status, 400);
}

TEST_F(Routes, OpenAIErrorsUseItsEnvelope) {
  Form no_file;
  no_file.field("model", "whisper-1");
  auto r = post_form("/v1/audio/transcriptions", no_file);
  EXPECT_EQ(r.status, 400);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["error"]["param"], "file");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"]["message"].is_string());

  Form unknown_model;
  unknown_model.file("file", audio_).field("model", "gpt-99");
  r = post_form("/v1/audio/transcriptions", unknown_model);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");

  Form bad_temperature;
  bad_temperature.file("file", audio_).field("model", "whisper-1").field("temperature", "7");
  r = post_form("/v1/audio/transcriptions", bad_temperature);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "temperature");

  Form bad_audio;
  bad_audio.file("file", "garbage bytes").field("model", "whisper-1");
  r = post_form("/v1/audio/transcriptions", bad_audio);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_audio");

  r = http_request(port(), "POST", "/v1/audio/transcriptions", kBearer, "not multipart");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(json::parse(r.body).contains("error"));

  r = http_request(port(), "POST", "/v1/audio/transcriptions", {}, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "Missing authorization header");
}

TEST_F(Routes, StreamingSendsADeltaPerSegmentThenDone) {
  Form form;
  form.file("file", tone_wav(45.0)).field("model", "whisper-1").field("stream", "true");
  const auto r = post_form("/v1/audio/transcriptions", form);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  std::vector<json> events;
  std::regex data_line("data: (.*)\n\n");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), data_line), end; it != end; ++it) {
    events.push_back(json::parse((*it)[1].str()));
  }
  // 45 s = two windows, one segment each.
  ASSERT_EQ(events.size(), 3u) << r.body;
  EXPECT_EQ(events[0]["type"], "transcript.text.delta");
  EXPECT_EQ(events[1]["type"], "transcript.text.delta");
  // OpenAI's fields (type, delta) plus each segment's id and times, for clients such as the
  // web page that show timed segments as they come.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(events[i]["delta"], scripted().text) << i;
    EXPECT_EQ(events[i]["id"], i);
    EXPECT_NEAR(events[i]["start"].get<double>(), 30.0 * i, 1e-9);
    EXPECT_NEAR(events[i]["end"].get<double>(), 30.0 * i + 2.8, 1e-9);
  }
  EXPECT_EQ(events[2]["type"], "transcript.text.done");
  EXPECT_EQ(trimmed(events[2]["text"].get<std::string>()),
            trimmed(scripted().text) + scripted().text);
}

// Once a streamed answer is complete the request is over: a kept-alive client that closes
// afterwards has not left "before the answer" (the disconnect watcher used to stay armed).
TEST(StreamedAnswers, AClientClosingAfterTheStreamIsNotAnEarlyDisconnect) {
  ServerProcess server(config_with(R"("workers": 1)"));
  Form form;
  form.file("file", tone_wav(3.0)).field("model", "whisper-1").field("stream", "true");
  {
    HttpConnection connection(server.port());
    const auto r = connection.request("POST", "/v1/audio/transcriptions", form.headers(kBearer),
                                      form.finish());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("transcript.text.done"), std::string::npos) << r.body;
    ASSERT_TRUE(r.keep_alive);
    ASSERT_TRUE(server.wait_for_log("\"POST /v1/audio/transcriptions\" 200", 5s)) << server.log();
  }
  EXPECT_FALSE(server.wait_for_log("client disconnected before the answer", 1500ms))
      << server.log();
}

TEST_F(Routes, DetectLanguage) {
  Form form;
  form.file("file", audio_);
  const auto r = post_form("/v1/audio/detect-language", form);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = json::parse(r.body);
  double sum = 0;
  for (const auto& [code, p] : j["probabilities"].items()) sum += p.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-3);
  EXPECT_EQ(j["probabilities"].size(), 99u);
  EXPECT_TRUE(j["language"].is_string());
}

TEST_F(Routes, ModelsList) {
  const auto r = http_request(port(), "GET", "/v1/models", kBearer);
  ASSERT_EQ(r.status, 200);
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "list");
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"whisper-1", "scripted"}));
}

TEST_F(Routes, TwentyRequestsAtOnceAreAllAnswered) {
  std::vector<std::future<HttpResult>> replies;
  for (int i = 0; i < 20; ++i) {
    replies.push_back(std::async(std::launch::async, [this, i] {
      return http_request(port(), i % 2 ? "POST" : "GET", "/stt", kToken, audio_);
    }));
  }
  int ok = 0;
  for (auto& f : replies) {
    const auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    ok += r.status == 200 ? 1 : 0;
  }
  EXPECT_EQ(ok, 20);
}

TEST_F(Routes, MetricsCountRequestsAndAudio) {
  http_request(port(), "GET", "/stt", kToken, audio_);
  const auto r = http_request(port(), "GET", "/metrics", kToken);
  ASSERT_EQ(r.status, 200);
  for (const char* name :
       {"earshot_http_requests_total{route=\"/stt\",status=\"200\"}", "earshot_queue_depth",
        "earshot_jobs_running", "earshot_audio_seconds_total", "earshot_real_time_factor",
        "earshot_model_load_seconds", "earshot_http_request_duration_seconds_bucket"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.body, m, std::regex("earshot_audio_seconds_total ([0-9.e+]+)")));
  EXPECT_GE(std::stod(m[1].str()), 3.0);
  EXPECT_EQ(http_request(port(), "GET", "/metrics").status, 401);
}

// Scheduling limits, each on a server of its own.

TEST(RouteLimits, QueueFullIs503WithRetryAfterAndNothingIsLost) {
  ServerProcess server(
      config_with(R"("workers": 1, "max_queued_jobs": 1, "max_jobs_per_token": 0)"));
  const auto audio = tone_wav(120.0);
  std::vector<std::future<HttpResult>> replies;
  for (int i = 0; i < 8; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return http_request(server.port(), "POST", "/stt", kToken, audio);
    }));
  }
  int ok = 0, busy = 0;
  for (auto& f : replies) {
    const auto r = f.get();
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.header("retry-after"), "5");
      EXPECT_EQ(json::parse(r.body)["status"], "failed");
    }
  }
  EXPECT_EQ(ok + busy, 8);  // every request got exactly one answer
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  // One breach line per refused request.
  const auto lines = breaches(server, "engine.max_queued_jobs", "1", busy);
  EXPECT_EQ(lines.size(), static_cast<std::size_t>(busy)) << server.log();
  for (const auto& line : lines) EXPECT_NE(line.find("answered 503"), std::string::npos) << line;
}

TEST(RouteLimits, JobsPerTokenIs429) {
  ServerProcess server(
      config_with(R"("workers": 1, "max_queued_jobs": 16, "max_jobs_per_token": 1)"));
  const auto audio = tone_wav(300.0);
  auto first = std::async(std::launch::async, [&] {
    return http_request(server.port(), "POST", "/stt", kToken, audio);
  });
  // Wait until the first job is running.
  for (int i = 0; i < 200; ++i) {
    const auto m = http_request(server.port(), "GET", "/metrics", kToken);
    if (m.body.find("earshot_jobs_running 1") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  const auto second = http_request(server.port(), "POST", "/stt", kToken, tone_wav(1.0));
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_FALSE(second.header("retry-after").empty());
  // On OpenAI's route the same refusal has OpenAI's type for a 429, as the auth limiter's
  // 429 has: one error mapper for the server.
  Form form;
  form.file("file", tone_wav(1.0)).field("model", "whisper-1");
  const auto openai = http_request(server.port(), "POST", "/v1/audio/transcriptions",
                                   form.headers(kBearer), form.finish());
  EXPECT_EQ(openai.status, 429) << openai.body;
  const auto error = json::parse(openai.body)["error"];
  EXPECT_EQ(error["type"], "rate_limit_error") << openai.body;
  EXPECT_EQ(error["code"], "too_many_jobs") << openai.body;
  // Another token is not limited by the first one's job.
  const auto other = http_request(server.port(), "POST", "/stt",
                                  {{"Authorization", "Token token2"}}, tone_wav(1.0));
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(first.get().status, 200);
  const auto lines = breaches(server, "engine.max_jobs_per_token", "1", 2);
  ASSERT_EQ(lines.size(), 2u) << server.log();
  EXPECT_NE(lines[0].find("token token-1 has that many jobs queued or running; answered 429"),
            std::string::npos)
      << lines[0];
}

TEST(RouteLimits, AudioLongerThanTheLimitIsRefused) {
  ServerProcess server(config_with(R"("max_audio_seconds": 10)"));
  const auto r = http_request(server.port(), "POST", "/stt", kToken, tone_wav(12.0));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_NE(json::parse(r.body)["Error"].get<std::string>().find("10 seconds"), std::string::npos);
  const auto shorter = http_request(server.port(), "POST", "/stt", kToken, tone_wav(9.0));
  EXPECT_EQ(shorter.status, 200) << shorter.body << server.log();
  const auto lines = breaches(server, "engine.max_audio_seconds", "10 s", 1);
  ASSERT_EQ(lines.size(), 1u) << server.log();
  EXPECT_NE(lines[0].find("answered 413"), std::string::npos) << lines[0];
}

TEST(RouteLimits, RequestTimeoutStopsTheJob) {
  ServerProcess server(config_with(R"("request_timeout": 0.2)"));
  const auto r = http_request(server.port(), "POST", "/stt", kToken, tone_wav(1800.0));
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(json::parse(r.body)["Error"].get<std::string>().find("longer than"), std::string::npos);
  const auto lines = breaches(server, "engine.request_timeout", "0.2 s", 1);
  ASSERT_EQ(lines.size(), 1u) << server.log();
  EXPECT_NE(lines[0].find("answered 504"), std::string::npos) << lines[0];
}

TEST(RouteLimits, ADisconnectMidJobFreesItsWorker) {
  ServerProcess server(config_with(R"("workers": 1)"));
  const auto audio = tone_wav(1800.0);
  {
    HttpConnection c(server.port());
    // Send the request, then hang up without reading the answer.
    namespace net = boost::asio;
    std::string req =
        "POST /stt HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\nContent-Length: " +
        std::to_string(audio.size()) + "\r\n\r\n" + audio;
    const auto reply =
        std::async(std::launch::async, [&] { return raw_exchange(server.port(), req, 1500ms); });
    reply.wait();
  }
  // Bounds generous for the sanitizer builds on a loaded 2-core machine (a window's encoder
  // runs before the cancellation is seen), still far below what 30 minutes of audio take.
  ASSERT_TRUE(server.wait_for_log("client disconnected", 30s)) << server.log();
  // The worker is free again well before 30 minutes of audio could have been transcribed.
  bool idle = false;
  for (int i = 0; i < 600 && !idle; ++i) {
    idle = http_request(server.port(), "GET", "/metrics", kToken)
               .body.find("earshot_jobs_running 0") != std::string::npos;
    if (!idle) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(idle);
  EXPECT_EQ(http_request(server.port(), "POST", "/stt", kToken, tone_wav(1.0)).status, 200);
}

TEST(RouteLimits, ShutdownAnswersEveryQueuedJob) {
  ServerProcess server(
      config_with(R"("workers": 1, "max_queued_jobs": 16)", R"("shutdown_grace": 3)"));
  const auto audio = tone_wav(600.0);
  std::vector<std::future<HttpResult>> replies;
  for (int i = 0; i < 4; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return http_request(server.port(), "POST", "/stt", kToken, audio);
    }));
  }
  // Every request accepted as a job (running, queued or done) and one running before the
  // signal: a request still uploading its 19 MB body is not a job yet (under ASan on a
  // loaded machine the uploads take seconds).
  const auto gauge = [](const std::string& metrics, const std::string& name) {
    const auto at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoi(metrics.substr(at + name.size() + 2));
  };
  bool all_accepted = false;
  for (int i = 0; i < 1500 && !all_accepted; ++i) {
    const auto metrics = http_request(server.port(), "GET", "/metrics", kToken).body;
    const int running = gauge(metrics, "earshot_jobs_running");
    all_accepted = running == 1 && running + gauge(metrics, "earshot_queue_depth") +
                                           gauge(metrics, "earshot_transcriptions_total") ==
                                       4;
    if (!all_accepted) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(all_accepted) << "the four requests never all became jobs with one running";
  server.signal(SIGTERM);
  int answered = 0;
  for (auto& f : replies) {
    const auto r = f.get();
    EXPECT_TRUE(r.status == 200 || r.status == 503) << r.status << " " << r.body;
    answered += (r.status == 200 || r.status == 503) ? 1 : 0;
  }
  EXPECT_EQ(answered, 4);
  EXPECT_EQ(server.wait_exit(10s), 0);
}

TEST(NoModel, ServerStartsSaysHowToGetOneAndServesPing) {
  ServerProcess server(make_config({"token1"}));
  EXPECT_TRUE(server.wait_for_log("earshot models download", 5s));
  EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", kToken).status, 200);
  const auto r = http_request(server.port(), "POST", "/stt", kToken, tone_wav(1.0));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(json::parse(r.body)["Error"].get<std::string>().find("earshot models download"),
            std::string::npos);
  // The hint is one line.
  const auto log = server.log();
  const auto at = log.find("earshot models download");
  const auto line_start = log.rfind('\n', at);
  const auto line_end = log.find('\n', at);
  EXPECT_EQ(log.substr(line_start + 1, line_end - line_start - 1).find('\n'), std::string::npos);
}

std::uint64_t metric_value(const std::string& body, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)"))) return 0;
  return std::stoull(m[1].str());
}

// With two workers the decoder steps of transcriptions running at the same time are run as
// one step (engine.batch_decoding): each request still gets the text it gets alone, and
// /metrics shows steps that shared a batch.
TEST(RouteBatching, ConcurrentRequestsShareDecoderStepsAndGetTheirTextsAlone) {
  EARSHOT_REQUIRE_CONFORMANCE(conformance);
  const json models = {{"micro", (conformance / "micro.ggml.bin").string()}};
  ServerProcess server(R"({"server": {"http": {"host": "127.0.0.1", "port": 0,
      "request_max_size": 100000000, "allowed_tokens": ["token1"]}}, "models": )" +
                       models.dump() + R"(, "engine": {"workers": 2, "threads_per_worker": 1,
      "max_queued_jobs": 16, "max_jobs_per_token": 0}})");
  const auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::vector<std::string> audio = {read(conformance / "hello.wav"),
                                          read(conformance / "long45.wav")};
  const auto transcribe = [&](const std::string& body) {
    const auto r = http_request(server.port(), "POST", "/stt?language=en", kToken, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).value("text", std::string("(no text)"));
  };
  std::vector<std::string> alone;
  for (const auto& a : audio) alone.push_back(transcribe(a));
  const auto before = http_request(server.port(), "GET", "/metrics", kToken).body;

  std::vector<std::future<std::string>> replies;
  for (int i = 0; i < 6; ++i) {
    replies.push_back(std::async(
        std::launch::async, [&, i] { return transcribe(audio[static_cast<std::size_t>(i % 2)]); }));
  }
  for (std::size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i].get(), alone[i % 2]) << "request " << i;
  }
  const auto after = http_request(server.port(), "GET", "/metrics", kToken).body;
  const auto steps = metric_value(after, "earshot_batched_decoder_steps_total") -
                     metric_value(before, "earshot_batched_decoder_steps_total");
  const auto batches = metric_value(after, "earshot_decoder_step_batches_total") -
                       metric_value(before, "earshot_decoder_step_batches_total");
  EXPECT_GT(batches, 0u) << after;
  // Fewer batches than steps: some steps of different requests ran together.
  EXPECT_LT(batches, steps) << after;
  // One request at a time never shares a step.
  EXPECT_EQ(metric_value(before, "earshot_batched_decoder_steps_total"),
            metric_value(before, "earshot_decoder_step_batches_total"))
      << before;
}

}  // namespace
}  // namespace earshot::testing
