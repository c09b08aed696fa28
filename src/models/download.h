#pragma once

// Fetches a model file over HTTP(S) with libcurl: into `<final>.part`, resuming a partial
// file with a Range request, verified against a published checksum, then renamed into
// place, so that a half-written file never carries the final name.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace earshot::models {

struct DownloadOptions {
  std::string url;                    // the file's URL
  std::filesystem::path destination;  // final path
  std::string expected_sha1;          // hex; checked when non-empty
  std::string expected_sha256;   // hex; checked when non-empty (else the server's X-Linked-Etag)
  bool require_checksum = true;  // refuse a file no checksum can be found for
  // Called with (bytes so far, total bytes or 0 when unknown).
  std::function<void(std::uint64_t, std::uint64_t)> on_progress;
};

struct DownloadResult {
  std::uint64_t bytes = 0;
  bool resumed = false;       // continued from an existing .part file
  std::string verified_with;  // "sha1", "sha256" or "" (no checksum available)
};

class DownloadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws DownloadError with a message for the user.
DownloadResult download_file(const DownloadOptions& options);

// Hex digests of a file (lower case).
std::string file_sha1(const std::filesystem::path& path);
std::string file_sha256(const std::filesystem::path& path);

}  // namespace earshot::models
