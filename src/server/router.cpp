#include "server/router.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace earshot::server {

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

void Router::add_websocket(Route route, WebSocketAdmit admit) {
  websockets_.emplace_back(route.path, std::move(admit));
  add(std::move(route));
}

const WebSocketAdmit* Router::websocket(std::string_view path) const {
  for (const auto& [p, admit] : websockets_) {
    if (p == path) return &admit;
  }
  return nullptr;
}

const Route* Router::find(std::string_view path) const {
  for (const auto& r : routes_) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

bool Router::allows(const Route& route, http::verb method) {
  auto has = [&](http::verb v) {
    return std::find(route.methods.begin(), route.methods.end(), v) != route.methods.end();
  };
  return has(method) || (method == http::verb::head && has(http::verb::get));
}

std::string Router::allow_header(const Route& route) {
  std::string out;
  for (auto v : route.methods) {
    if (!out.empty()) out += ", ";
    out += std::string(http::to_string(v));
    if (v == http::verb::get) out += ", HEAD";
  }
  return out;
}

ErrorStyle error_style_for_path(std::string_view path) {
  return path.starts_with("/v1/") ? ErrorStyle::kOpenAI : ErrorStyle::kOriginal;
}

Response json_response(http::status status, const std::string& body, unsigned version,
                       bool keep_alive) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  return res;
}

namespace {

// OpenAI's error "type" for a status, as its API reports them.
const char* openai_error_type(http::status status) {
  switch (status) {
    case http::status::too_many_requests:
      return "rate_limit_error";
    default:
      return static_cast<unsigned>(status) >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace

Response error_response(http::status status, std::string_view message, ErrorStyle style,
                        unsigned version, bool keep_alive, std::string_view param,
                        std::string_view code) {
  using nlohmann::json;
  json body;
  if (style == ErrorStyle::kOpenAI) {
    body = {{"error",
             {{"message", message},
              {"type", openai_error_type(status)},
              {"param", param.empty() ? json(nullptr) : json(param)},
              {"code", code.empty() ? json(nullptr) : json(code)}}}};
  } else {
    body = {{"Error", message}, {"status", "failed"}};
  }
  return json_response(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       version, keep_alive);
}

}  // namespace earshot::server
