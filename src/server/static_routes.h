#pragma once

// The web page at `/`: the files of web/, built into the binary (cmake/EmbedAssets.cmake),
// served without a token so that a person can open the page before typing one. Only the
// page's own files are served, each at its exact path; every other path still goes through
// authentication and gets 404 as before.

#include <span>
#include <string_view>

#include "server/router.h"

namespace earshot::server {

// One file of web/ as the build embedded it.
struct EmbeddedAsset {
  std::string_view path;     // URL path: "/" + its path under web/, e.g. "/app.js"
  std::string_view content;  // its bytes
  std::string_view etag;     // quoted strong validator made from its SHA-256, e.g. "\"1f0c...\""
};

// Every file of web/, sorted by path; defined in the generated web_assets.cpp.
std::span<const EmbeddedAsset> embedded_web_assets();

// The Content-Type for a file name's extension; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view path);

// The Content-Security-Policy every page file is sent with: the page's own origin only, no
// inline script, no third-party origin; blob: media for playing back the chosen audio.
inline constexpr std::string_view kWebContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

// GET / (index.html) and GET <path> for every asset, unauthenticated, with Content-Type,
// Cache-Control, ETag (If-None-Match answers 304) and the security headers above.
void add_static_routes(Router& router,
                       std::span<const EmbeddedAsset> assets = embedded_web_assets());

}  // namespace earshot::server
