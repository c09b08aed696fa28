// Request limits over HTTP (docs/security.md): each breach is a clear JSON error, and the
// request is logged once (its access line).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/http_client.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string form(std::size_t parts, std::size_t field_size) {
  std::string body;
  for (std::size_t i = 0; i < parts; ++i) {
    body += "--lim\r\nContent-Disposition: form-data; name=\"chunking_strategy\"\r\n\r\nauto\r\n";
  }
  body += "--lim\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n" +
          std::string(field_size, 'w') + "\r\n--lim--\r\n";
  return body;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(Limits, MultipartPartsAndFieldSizeAre400JsonAndLoggedOnce) {
  ServerProcess server(make_config({"token1"}));
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Token token1"}, {"Content-Type", "multipart/form-data; boundary=lim"}};

  const auto parts =
      http_request(server.port(), "POST", "/v1/audio/transcriptions", headers, form(64, 10));
  EXPECT_EQ(parts.status, 400);
  EXPECT_NE(json::parse(parts.body)["error"]["message"].get<std::string>().find(
                "too many multipart parts (limit 64)"),
            std::string::npos)
      << parts.body;

  const auto field =
      http_request(server.port(), "POST", "/v1/audio/translations", headers, form(1, 65537));
  EXPECT_EQ(field.status, 400);
  EXPECT_NE(json::parse(field.body)["error"]["message"].get<std::string>().find(
                "'prompt' is larger than 65536"),
            std::string::npos)
      << field.body;

  ASSERT_TRUE(server.wait_for_log("\"POST /v1/audio/translations\" 400", 5s)) << server.log();
  EXPECT_EQ(count(server.log(), "\"POST /v1/audio/transcriptions\" 400"), 1u) << server.log();
  EXPECT_EQ(count(server.log(), "\"POST /v1/audio/translations\" 400"), 1u) << server.log();
}

TEST(Limits, ManyHeaderFieldsAre431AndLoggedOnce) {
  ServerProcess server(make_config({"token1"}));
  std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\n";
  for (int i = 0; i < 5000; ++i) request += "a: b\r\n";  // 30 KB of fields, over 16 KiB
  request += "\r\n";
  const auto reply = raw_exchange(server.port(), request, 5s);
  EXPECT_NE(reply.find("HTTP/1.1 431"), std::string::npos) << reply.substr(0, 200);
  EXPECT_NE(reply.find("\"status\":\"failed\""), std::string::npos) << reply.substr(0, 400);
  ASSERT_TRUE(server.wait_for_log(" 431 ", 5s)) << server.log();
  EXPECT_EQ(count(server.log(), " 431 "), 1u) << server.log();
}

}  // namespace
}  // namespace earshot::testing
