// A request as the server reads it: Beast's request parser under the limits HttpSession sets
// (header size first, the body limit once the route and token are known), then routing, the
// token decision, query parsing and the route's own request parsing (/stt's query, /v1's
// multipart form), on the real routes with no model configured, so that an accepted request
// ends in the "no model" answer instead of a job.
// Input: one byte choosing how the rest is split into reads, then the raw request bytes.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "server/basic_routes.h"
#include "server/config.h"
#include "server/model_registry.h"
#include "server/query.h"
#include "server/router.h"
#include "server/token_auth.h"
#include "server/transcription_routes.h"

namespace {

using namespace earshot::server;

constexpr std::size_t kMaxHeaderSize = 16384;  // HttpConfig's default
constexpr std::uint64_t kRequestMaxSize = 1 << 20;

class RecordingExchange final : public Exchange {
 public:
  void respond(Response&& response) override {
    ++answers;
    status = response.result_int();
  }
  void start_stream(Response&& head) override {
    ++answers;
    status = head.result_int();
  }
  void write(std::string) override {}
  void finish() override {}
  std::shared_ptr<std::atomic<bool>> client_gone() const override { return gone_; }

  int answers = 0;
  unsigned status = 0;

 private:
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
};

struct Server {
  Server() {
    auto log = std::make_shared<spdlog::logger>("fuzz");  // no sinks: discards everything
    models = std::make_unique<ModelRegistry>(std::vector<ModelSpec>{}, "",
                                             std::chrono::milliseconds(0), log);
    auto service = std::make_shared<TranscriptionService>();
    service->models = models.get();
    service->log = log;
    service->shutting_down = &stopping;
    add_basic_routes(router);
    add_transcription_routes(router, service);
  }
  std::atomic<bool> stopping{false};
  std::unique_ptr<ModelRegistry> models;
  Router router;
  TokenAuth auth{{{"alice", "token1", ""}}, {"Token", "Bearer"}};
};

// Feeds `input` to the parser in reads of `step` bytes (0 = all at once) until it stops
// asking for more; false on a parse error or when the input ends first.
bool feed(http::request_parser<http::string_body>& parser, std::string_view& input,
          std::string& pending, std::size_t step, bool header_only) {
  for (;;) {
    if ((header_only && parser.is_header_done()) || parser.is_done()) return true;
    boost::beast::error_code ec;
    if (!pending.empty()) {
      const auto used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec && ec != http::error::need_more) return false;
      if (!ec && used > 0) continue;
    }
    if (input.empty()) {
      if (!pending.empty()) return false;
      parser.put_eof(ec);
      return !ec && parser.is_done();
    }
    const auto take = step == 0 ? input.size() : std::min(step, input.size());
    pending.append(input.substr(0, take));
    input.remove_prefix(take);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Server server;
  if (size == 0) return 0;
  const std::size_t step = data[0] % 17;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string pending;

  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderSize));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!feed(parser, input, pending, step, true)) return 0;

  auto& req = parser.get();
  const std::string_view target(req.target().data(), req.target().size());
  const auto q = target.find('?');
  RequestContext context;
  context.remote = "127.0.0.1:1";
  context.path = std::string(target.substr(0, q));
  context.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  (void)parse_query(context.query);

  const Route* route = server.router.find(context.path);
  (void)error_style_for_path(context.path);
  if (route == nullptr || route->authenticated) {
    const auto it = req.find(http::field::authorization);
    std::optional<std::string_view> header;
    if (it != req.end()) header = std::string_view(it->value().data(), it->value().size());
    const auto decision = server.auth.decide(header);
    if (!decision.accepted()) return 0;
    context.token_label = decision.label;
  }
  if (route == nullptr) return 0;
  (void)Router::allow_header(*route);
  if (!Router::allows(*route, req.method())) return 0;
  if (const auto length = parser.content_length(); length && *length > kRequestMaxSize) return 0;
  parser.body_limit(kRequestMaxSize);
  parser.eager(true);  // as http::async_read reads the body
  if (!feed(parser, input, pending, step, false)) return 0;

  auto exchange = std::make_shared<RecordingExchange>();
  route->handler(parser.get(), context, exchange);
  // Every request a route accepts is answered exactly once, with a real status.
  if (exchange->answers != 1 || exchange->status < 200 || exchange->status > 599) __builtin_trap();
  return 0;
}
