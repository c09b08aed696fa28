#include "server/basic_routes.h"

#include <nlohmann/json.hpp>

namespace earshot::server {

void add_basic_routes(Router& router, std::function<Readiness()> readiness) {
  router.add({.path = "/ping",
              .methods = {http::verb::get},
              .authenticated = true,
              .error_style = ErrorStyle::kOriginal,
              .handler = [](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
                ex->respond(json_response(http::status::ok, R"({"text":"pong","status":"success"})",
                                          req.version(), req.keep_alive()));
              }});
  router.add(
      {.path = "/health",
       .methods = {http::verb::get},
       .authenticated = false,
       .error_style = ErrorStyle::kOriginal,
       .handler = [readiness](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
         const Readiness r = readiness ? readiness() : Readiness{};
         nlohmann::json body = {{"status", r.status}};
         if (!r.detail.empty()) body["detail"] = r.detail;
         ex->respond(
             json_response(r.ready ? http::status::ok : http::status::service_unavailable,
                           body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                           req.version(), req.keep_alive()));
       }});
}

}  // namespace earshot::server
