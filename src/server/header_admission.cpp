#include "server/header_admission.h"

#include "server/ascii.h"

namespace earshot::server {

namespace {

// The token a WebSocket upgrade carries as a subprotocol, if any.
std::optional<std::string> subprotocol_key(const Request& header) {
  const auto it = header.find(http::field::sec_websocket_protocol);
  if (it == header.end()) return std::nullopt;
  for (const auto name :
       header_list_items(std::string_view(it->value().data(), it->value().size()))) {
    if (name.starts_with(kSubprotocolKeyPrefix) && name.size() > kSubprotocolKeyPrefix.size()) {
      return std::string(name.substr(kSubprotocolKeyPrefix.size()));
    }
  }
  return std::nullopt;
}

}  // namespace

HeaderAdmission admit_header(const Request& header, std::optional<std::uint64_t> content_length,
                             const Router& router, const TokenAuth& auth, const HttpConfig& config,
                             std::optional<std::chrono::seconds> blocked_for) {
  HeaderAdmission out;
  const std::string_view target(header.target().data(), header.target().size());
  const auto q = target.find('?');
  out.path = std::string(target.substr(0, q));
  out.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  out.route = router.find(out.path);
  out.style = out.route != nullptr ? out.route->error_style : error_style_for_path(out.path);
  // The refusal of `status`, with `message` as the answer's reason.
  auto refuse = [&out](http::status status, std::string message) -> HeaderRefusal& {
    out.refusal.emplace();
    out.refusal->status = status;
    out.refusal->message = std::move(message);
    return *out.refusal;
  };

  // Authentication comes first on every route that needs it, unknown paths included, so
  // that nothing about the server is learnt without a token.
  if (out.route == nullptr || out.route->authenticated) {
    if (blocked_for) {
      const double window = std::chrono::duration<double>(config.auth_failure_window).count();
      auto& r = refuse(http::status::too_many_requests,
                       "Too many failed authentication attempts; try again later");
      r.retry_after = std::to_string(blocked_for->count());
      r.breach = LimitBreach{.limit = "auth_failure_limit",
                             .configured = std::to_string(config.auth_failure_limit) +
                                           " failures per " + seconds_text(window),
                             .detail = "request while blocked for " +
                                       std::to_string(blocked_for->count()) + " s more"};
      return out;
    }
    const auto it = header.find(http::field::authorization);
    std::optional<std::string_view> value;
    if (it != header.end()) value = std::string_view(it->value().data(), it->value().size());
    auto decision = auth.decide(value);
    // On a WebSocket route without an Authorization header, the token may come as a
    // subprotocol (kSubprotocolKeyPrefix), checked by the same rules as a Bearer token.
    if (!value && out.route != nullptr && router.websocket(out.path) != nullptr) {
      if (const auto key = subprotocol_key(header)) {
        decision = auth.decide("Bearer " + *key);
        if (!decision.accepted()) decision = auth.decide("Token " + *key);
      }
    }
    if (!decision.accepted()) {
      refuse(static_cast<http::status>(decision.http_status()), std::string(decision.reason()))
          .auth_failed = true;
      return out;
    }
    out.token_label = decision.label;
  }
  if (out.route == nullptr) {
    refuse(http::status::not_found, "Not found: " + out.path);
    return out;
  }
  if (!Router::allows(*out.route, header.method())) {
    refuse(http::status::method_not_allowed,
           "Method " + std::string(header.method_string()) + " not allowed on " + out.path)
        .allow = Router::allow_header(*out.route);
    return out;
  }
  if (content_length && *content_length > config.request_max_size) {
    refuse(http::status::payload_too_large, "Request body too large").breach =
        LimitBreach{.limit = "request_max_size",
                    .configured = std::to_string(config.request_max_size) + " bytes",
                    .detail = "Content-Length " + std::to_string(*content_length)};
    return out;
  }
  return out;
}

}  // namespace earshot::server
