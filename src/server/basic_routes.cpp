#include "server/basic_routes.h"

namespace earshot::server {

void add_basic_routes(Router& router) {
  router.add({.path = "/ping",
              .methods = {http::verb::get},
              .authenticated = true,
              .error_style = ErrorStyle::kOriginal,
              .handler = [](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
                ex->respond(json_response(http::status::ok, R"({"text":"pong","status":"success"})", req.version(),
                                      req.keep_alive()));
              }});
  router.add({.path = "/health",
              .methods = {http::verb::get},
              .authenticated = false,
              .error_style = ErrorStyle::kOriginal,
              .handler = [](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
                ex->respond(json_response(http::status::ok, R"({"status":"ok"})", req.version(), req.keep_alive()));
              }});
}

}  // namespace earshot::server
