#include "server/static_routes.h"

#include <array>
#include <utility>

namespace earshot::server {
namespace {

// Boost 1.74's Beast takes its own string_view.
boost::beast::string_view beast_view(std::string_view s) {
  return {s.data(), s.size()};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// If-None-Match uses the weak comparison (RFC 9110 section 13.1.2): "W/" is ignored, and
// "*" matches any current representation.
bool none_match_hits(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto tag = trim(header.substr(0, comma));
    if (tag.starts_with("W/")) {
      tag.remove_prefix(2);
    }
    if (tag == "*" || tag == etag) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    header.remove_prefix(comma + 1);
  }
  return false;
}

void set_page_headers(Response& res, const EmbeddedAsset& asset) {
  res.set(http::field::etag, beast_view(asset.etag));
  // Paths carry no version, so the browser revalidates each time (a 304 while unchanged).
  res.set(http::field::cache_control, "no-cache");
  res.set("Content-Security-Policy", beast_view(kWebContentSecurityPolicy));
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
}

Handler asset_handler(EmbeddedAsset asset) {
  return [asset](Request& req, const RequestContext&, const std::shared_ptr<Exchange>& ex) {
    const auto if_none_match = req[http::field::if_none_match];
    if (!if_none_match.empty() &&
        none_match_hits(std::string_view(if_none_match.data(), if_none_match.size()), asset.etag)) {
      Response res{http::status::not_modified, req.version()};
      set_page_headers(res, asset);
      res.keep_alive(req.keep_alive());
      ex->respond(std::move(res));
      return;
    }
    Response res{http::status::ok, req.version()};
    set_page_headers(res, asset);
    res.set(http::field::content_type, beast_view(content_type_for(asset.path)));
    res.body() = std::string(asset.content);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    ex->respond(std::move(res));
  };
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (path.ends_with(extension)) {
      return type;
    }
  }
  return "application/octet-stream";
}

void add_static_routes(Router& router, std::span<const EmbeddedAsset> assets) {
  auto route_for = [](std::string path, const EmbeddedAsset& asset) {
    Route route;
    route.path = std::move(path);
    route.methods = {http::verb::get};
    route.authenticated = false;
    route.error_style = ErrorStyle::kOriginal;
    route.handler = asset_handler(asset);
    return route;
  };
  for (const auto& asset : assets) {
    router.add(route_for(std::string(asset.path), asset));
    if (asset.path == "/index.html") {
      router.add(route_for("/", asset));
    }
  }
}

}  // namespace earshot::server
