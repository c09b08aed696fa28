#include "server/realtime_routes.h"

#include <atomic>
#include <cstdio>
#include <random>

#include <spdlog/logger.h>

#include "server/ascii.h"
#include "server/query.h"
#include "server/transcription_routes.h"

namespace earshot::server {
namespace {

std::string random_id(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(prefix) + hex;
}

// A session's place among realtime.max_sessions, given back when the session ends.
class SessionSlot {
 public:
  explicit SessionSlot(std::atomic<std::size_t>& open) : open_(open) {}
  ~SessionSlot() { open_.fetch_sub(1); }
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;

 private:
  std::atomic<std::size_t>& open_;
};

// The session keeps its slot for as long as it lives (jobs of a closed session included).
class SlottedSession final : public WebSocketHandler {
 public:
  SlottedSession(std::shared_ptr<RealtimeSession> session, std::shared_ptr<SessionSlot> slot)
      : session_(std::move(session)), slot_(std::move(slot)) {}
  void on_message(std::string_view data, bool text) override { session_->on_message(data, text); }
  void on_closed() override { session_->on_closed(); }

 private:
  std::shared_ptr<RealtimeSession> session_;
  std::shared_ptr<SessionSlot> slot_;
};

bool offers(std::string_view list, std::string_view name) {
  const auto items = header_list_items(list);
  return std::find(items.begin(), items.end(), name) != items.end();
}

}  // namespace

void add_realtime_routes(Router& router, std::shared_ptr<const TranscriptionService> service,
                         RealtimeConfig config) {
  auto open_sessions = std::make_shared<std::atomic<std::size_t>>(0);
  Route route;
  route.path = "/v1/realtime";
  route.methods = {http::verb::get};
  route.authenticated = true;
  route.error_style = ErrorStyle::kOpenAI;
  WebSocketAdmit admit = [service, config, open_sessions](const Request& req,
                                                          const RequestContext& ctx) {
    WebSocketAdmission a;
    const auto query = parse_query(ctx.query);
    if (const auto it = query.find("intent"); it != query.end() && it->second != "transcription") {
      a.status = http::status::bad_request;
      a.message = "this server holds transcription sessions only: use ?intent=transcription";
      a.code = "invalid_intent";
      return a;
    }
    if (service->models->empty()) {
      a.status = http::status::service_unavailable;
      a.message = "no model is configured on this server";
      a.code = "model_not_configured";
      return a;
    }
    if (open_sessions->fetch_add(1) >= config.max_sessions) {
      open_sessions->fetch_sub(1);
      service->log->warn("{} realtime session refused: realtime.max_sessions ({}) are open",
                         ctx.remote, config.max_sessions);
      a.status = http::status::service_unavailable;
      a.message = "the server holds its most realtime sessions (realtime.max_sessions = " +
                  std::to_string(config.max_sessions) + "); try again later";
      a.code = "session_limit";
      return a;
    }
    auto slot = std::make_shared<SessionSlot>(*open_sessions);
    const auto beta_header = req["OpenAI-Beta"];
    const auto protocols = req[http::field::sec_websocket_protocol];
    const bool beta =
        offers(std::string_view(beta_header.data(), beta_header.size()), "realtime=v1") ||
        offers(std::string_view(protocols.data(), protocols.size()), "openai-beta.realtime-v1");
    a.open = [service, config, slot, beta, remote = ctx.remote](
                 std::shared_ptr<WebSocketChannel> channel) -> std::shared_ptr<WebSocketHandler> {
      auto session = std::make_shared<RealtimeSession>(service, config, std::move(channel),
                                                       random_id("sess_"), remote, beta);
      session->start();
      return std::make_shared<SlottedSession>(std::move(session), slot);
    };
    return a;
  };
  route.handler = [](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
    ex->respond(error_response(http::status::upgrade_required,
                               "this route takes a WebSocket connection", ErrorStyle::kOpenAI,
                               req.version(), false));
  };
  router.add_websocket(std::move(route), std::move(admit));
}

}  // namespace earshot::server
