#include "server/static_routes.h"

#include <set>

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

// Keeps what a handler answered.
class RecordingExchange final : public Exchange {
 public:
  void respond(Response&& response) override { answer = std::move(response); }
  void start_stream(Response&& head) override { answer = std::move(head); }
  void write(std::string) override {}
  void finish() override {}
  std::shared_ptr<std::atomic<bool>> client_gone() const override { return gone_; }

  Response answer;

 private:
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
};

Response get(const Router& router, const std::string& path, const std::string& if_none_match = "") {
  const Route* route = router.find(path);
  if (route == nullptr) {
    throw std::runtime_error("no route for " + path);
  }
  Request req{http::verb::get, path, 11};
  if (!if_none_match.empty()) {
    req.set(http::field::if_none_match, if_none_match);
  }
  auto ex = std::make_shared<RecordingExchange>();
  route->handler(req, {.remote = "test", .token_label = "", .path = path, .query = ""}, ex);
  return ex->answer;
}

// A header's value as a std::string (Boost 1.74's Beast answers its own string_view).
std::string header(const Response& res, http::field name) {
  return std::string(res[name]);
}
std::string header(const Response& res, const char* name) {
  return std::string(res[name]);
}

const EmbeddedAsset* asset(std::string_view path) {
  for (const auto& a : embedded_web_assets()) {
    if (a.path == path) {
      return &a;
    }
  }
  return nullptr;
}

TEST(StaticRoutes, TheBuildEmbedsThePageFiles) {
  for (const char* path : {"/index.html", "/app.js", "/style.css", "/transcript_files.js",
                           "/languages.js", "/favicon.svg"}) {
    const auto* a = asset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_FALSE(a->content.empty()) << path;
    // A quoted strong validator: 32 hex digits of the file's SHA-256.
    EXPECT_EQ(a->etag.size(), 34u) << path;
    EXPECT_EQ(a->etag.front(), '"');
    EXPECT_EQ(a->etag.back(), '"');
  }
  std::set<std::string_view> etags;
  for (const auto& a : embedded_web_assets()) {
    etags.insert(a.etag);
  }
  EXPECT_EQ(etags.size(), embedded_web_assets().size()) << "different files, different ETags";
  EXPECT_NE(asset("/index.html")->content.find("<!doctype html>"), std::string_view::npos);
}

TEST(StaticRoutes, RootServesIndexWithoutAToken) {
  Router router;
  add_static_routes(router);
  const Route* root = router.find("/");
  ASSERT_NE(root, nullptr);
  EXPECT_FALSE(root->authenticated);
  EXPECT_TRUE(Router::allows(*root, http::verb::get));
  EXPECT_TRUE(Router::allows(*root, http::verb::head));
  EXPECT_FALSE(Router::allows(*root, http::verb::post));
  for (const auto& a : embedded_web_assets()) {
    const Route* r = router.find(a.path);
    ASSERT_NE(r, nullptr) << a.path;
    EXPECT_FALSE(r->authenticated) << a.path;
  }

  const auto res = get(router, "/");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(header(res, http::field::content_type), "text/html; charset=utf-8");
  EXPECT_EQ(res.body(), asset("/index.html")->content);
  EXPECT_EQ(header(res, http::field::content_length), std::to_string(res.body().size()));
}

TEST(StaticRoutes, ContentTypesCachingAndSecurityHeaders) {
  Router router;
  add_static_routes(router);
  const std::pair<const char*, const char*> cases[] = {
      {"/index.html", "text/html; charset=utf-8"},
      {"/app.js", "text/javascript; charset=utf-8"},
      {"/style.css", "text/css; charset=utf-8"},
      {"/favicon.svg", "image/svg+xml"},
  };
  for (const auto& [path, type] : cases) {
    const auto res = get(router, path);
    EXPECT_EQ(res.result(), http::status::ok) << path;
    EXPECT_EQ(header(res, http::field::content_type), type) << path;
    EXPECT_EQ(header(res, http::field::etag), asset(path)->etag) << path;
    EXPECT_EQ(header(res, http::field::cache_control), "no-cache") << path;
    EXPECT_EQ(header(res, "X-Content-Type-Options"), "nosniff") << path;
    const std::string csp = header(res, "Content-Security-Policy");
    EXPECT_EQ(csp, kWebContentSecurityPolicy) << path;
  }
  // Nothing but the page's own origin: no wildcard, no scheme-wide or third-party source,
  // no inline script.
  const std::string csp(kWebContentSecurityPolicy);
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos);
  for (const char* loose : {"*", "http:", "https:", "'unsafe-inline'", "'unsafe-eval'", "//"}) {
    EXPECT_EQ(csp.find(loose), std::string::npos) << loose;
  }
}

TEST(StaticRoutes, IfNoneMatchAnswers304) {
  Router router;
  add_static_routes(router);
  const std::string etag(asset("/app.js")->etag);
  for (const std::string& value : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const auto res = get(router, "/app.js", value);
    EXPECT_EQ(res.result(), http::status::not_modified) << value;
    EXPECT_TRUE(res.body().empty());
    EXPECT_EQ(header(res, http::field::etag), etag);
  }
  EXPECT_EQ(get(router, "/app.js", "\"stale\"").result(), http::status::ok);
}

TEST(StaticRoutes, OnlyExactAssetPathsAreRouted) {
  Router router;
  add_static_routes(router);
  // Unknown paths have no route, so the server authenticates them and answers 404.
  for (const char* path : {"/nope.js", "/app.js/", "/APP.JS", "/index.htm", "//app.js",
                           "/../CMakeLists.txt", "/web/app.js", ""}) {
    EXPECT_EQ(router.find(path), nullptr) << path;
  }
}

TEST(StaticRoutes, ContentTypeByExtension) {
  EXPECT_EQ(content_type_for("/a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("/a.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("/a.json"), "application/json");
  EXPECT_EQ(content_type_for("/a.png"), "image/png");
  EXPECT_EQ(content_type_for("/a.wasm"), "application/octet-stream");
  EXPECT_EQ(content_type_for("/html"), "application/octet-stream");
}

TEST(StaticRoutes, GivenAssetsAreServedAsGiven) {
  const EmbeddedAsset assets[] = {{"/index.html", "<p>hi</p>", "\"1\""},
                                  {"/data.bin", "\x01\x02", "\"2\""}};
  Router router;
  add_static_routes(router, assets);
  EXPECT_EQ(get(router, "/").body(), "<p>hi</p>");
  const auto bin = get(router, "/data.bin");
  EXPECT_EQ(bin.body(), "\x01\x02");
  EXPECT_EQ(header(bin, http::field::content_type), "application/octet-stream");
  EXPECT_EQ(router.find("/app.js"), nullptr);
}

}  // namespace
}  // namespace earshot::server
