#include "server/multipart.h"

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

TEST(Multipart, Boundary) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=xyz"), "xyz");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
}

TEST(Multipart, ParsesFieldsAndFiles) {
  const std::string body =
      std::string(
          "preamble\r\n"
          "--XX\r\n"
          "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
          "whisper-1\r\n"
          "--XX\r\n"
          "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".wav\"\r\n"
          "Content-Type: audio/wav\r\n\r\n") +
      std::string("RIFF\r\n--X\0binary\r\n", 18) +
      "--XX\r\n"
      "content-disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\n"
      "word\r\n"
      "--XX--\r\n";
  const std::string_view view(body.data(), body.size());
  const auto parts = parse_multipart(view, "XX");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "model");
  EXPECT_FALSE(parts[0].filename);
  EXPECT_EQ(parts[0].data, "whisper-1");
  EXPECT_EQ(parts[1].name, "file");
  EXPECT_EQ(parts[1].filename, "a \"q\".wav");
  EXPECT_EQ(parts[1].content_type, "audio/wav");
  EXPECT_EQ(parts[1].data, std::string_view("RIFF\r\n--X\0binary", 16));
  EXPECT_EQ(parts[2].name, "timestamp_granularities[]");
  EXPECT_EQ(parts[2].data, "word");
}

TEST(Multipart, EmptyPartAndEmptyForm) {
  EXPECT_TRUE(parse_multipart("--b--\r\n", "b").empty());
  const auto parts =
      parse_multipart("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n--b--", "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(parts[0].data.empty());
}

TEST(Multipart, Errors) {
  auto fails = [](const std::string& body, const MultipartLimits& limits = {}) {
    EXPECT_THROW(parse_multipart(body, "b", limits), MultipartError) << body;
  };
  fails("");
  fails("no delimiter at all");
  fails("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ndata without end");
  fails("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--");
  fails("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--");
  fails("--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nx\r\n--b--");
  fails("--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--b--");
  fails("--b\r\ngarbage header line\r\n\r\nx\r\n--b--");
  fails("--bjunk");
  std::string many;
  for (int i = 0; i < 5; ++i)
    many += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  many += "--b--";
  EXPECT_EQ(parse_multipart(many, "b").size(), 5u);
  fails(many, {.max_parts = 4, .max_part_header_size = 8192});
  fails("--b\r\nContent-Disposition: form-data; name=\"" + std::string(10000, 'n') +
        "\"\r\n\r\nx\r\n--b--");
}

// Form fields (no filename) are capped; files are bounded only by the request's body limit.
TEST(Multipart, FieldSizeLimit) {
  auto form = [](const std::string& disposition, std::size_t size) {
    return "--b\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" +
           std::string(size, 'p') + "\r\n--b--";
  };
  const MultipartLimits limits{.max_field_size = 100};
  EXPECT_EQ(parse_multipart(form("name=\"prompt\"", 100), "b", limits).at(0).data.size(), 100u);
  try {
    parse_multipart(form("name=\"prompt\"", 101), "b", limits);
    ADD_FAILURE() << "a 101-byte field passed a 100-byte limit";
  } catch (const MultipartError& e) {
    EXPECT_NE(std::string(e.what()).find("'prompt' is larger than 100 bytes"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(parse_multipart(form("name=\"file\"; filename=\"a.wav\"", 5000), "b", limits)
                .at(0)
                .data.size(),
            5000u);
  EXPECT_EQ(MultipartLimits{}.max_field_size, 65536u);
}

// A limit passed is told apart from a malformed body, with the limit's name and value (for
// the server's log line).
TEST(Multipart, LimitErrorsNameTheirLimit) {
  auto limit_of = [](const std::string& body,
                     const MultipartLimits& limits) -> std::pair<std::string, std::size_t> {
    try {
      parse_multipart(body, "b", limits);
    } catch (const MultipartLimitError& e) {
      return {e.limit(), e.configured()};
    } catch (const MultipartError& e) {
      return {std::string("malformed: ") + e.what(), 0};
    }
    return {"accepted", 0};
  };
  const std::string part = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nvalue\r\n";
  EXPECT_EQ(limit_of(part + part + part + "--b--", {.max_parts = 2}),
            std::make_pair(std::string("max_parts"), std::size_t{2}));
  EXPECT_EQ(limit_of(part + "--b--", {.max_part_header_size = 10}),
            std::make_pair(std::string("max_part_header_size"), std::size_t{10}));
  EXPECT_EQ(limit_of(part + "--b--", {.max_field_size = 4}),
            std::make_pair(std::string("max_field_size"), std::size_t{4}));
  EXPECT_EQ(limit_of(part + "--b--", {}), std::make_pair(std::string("accepted"), std::size_t{0}));
  EXPECT_EQ(limit_of("--b\r\ngarbage\r\n\r\nx\r\n--b--", {}).first.substr(0, 10), "malformed:");
}

}  // namespace
}  // namespace earshot::server
