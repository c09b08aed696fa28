#include "models/download.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>

#include <curl/curl.h>
#include <openssl/evp.h>

namespace earshot::models {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string file_digest(const std::filesystem::path& path, const EVP_MD* md) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DownloadError("cannot read " + path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &n);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(two, sizeof two, "%02x", out[i]);
    hex += two;
  }
  return hex;
}

// State shared with libcurl's callbacks for one transfer.
struct Transfer {
  std::FILE* file = nullptr;
  std::uint64_t offset = 0;  // bytes already on disk when the transfer started
  std::uint64_t written = 0;
  long status = 0;
  bool status_checked = false;
  bool append = false;
  std::string linked_etag;  // Hugging Face publishes an LFS file's SHA-256 here
  const DownloadOptions* options = nullptr;
  std::filesystem::path part;
  std::string error;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos && lower(line.substr(0, colon)) == "x-linked-etag") {
    std::string v = line.substr(colon + 1);
    v.erase(std::remove_if(
                v.begin(), v.end(),
                [](char c) { return c == '"' || std::isspace(static_cast<unsigned char>(c)); }),
            v.end());
    t->linked_etag = lower(v);
  }
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->status_checked) {
    // The first body bytes tell whether the server honoured the Range request: 206 appends,
    // 200 starts the file again.
    t->status_checked = true;
    if (t->status == 206 && t->offset > 0) {
      t->append = true;
    } else {
      t->offset = 0;
    }
    t->file = std::fopen(t->part.c_str(), t->append ? "ab" : "wb");
    if (t->file == nullptr) {
      t->error = "cannot write " + t->part.string();
      return 0;
    }
  }
  const auto bytes = size * n;
  if (std::fwrite(data, 1, bytes, t->file) != bytes) {
    t->error = "cannot write " + t->part.string() + " (disk full?)";
    return 0;
  }
  t->written += bytes;
  return bytes;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->options->on_progress && total > 0) {
    t->options->on_progress(t->offset + static_cast<std::uint64_t>(now),
                            t->offset + static_cast<std::uint64_t>(total));
  }
  return 0;
}

}  // namespace

std::string file_sha1(const std::filesystem::path& path) {
  return file_digest(path, EVP_sha1());
}
std::string file_sha256(const std::filesystem::path& path) {
  return file_digest(path, EVP_sha256());
}

DownloadResult download_file(const DownloadOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.destination.parent_path(), ec);
  if (ec)
    throw DownloadError("cannot create " + options.destination.parent_path().string() + ": " +
                        ec.message());
  const auto part = std::filesystem::path(options.destination.string() + ".part");

  Transfer t;
  t.options = &options;
  t.part = part;
  if (std::filesystem::exists(part, ec)) t.offset = std::filesystem::file_size(part, ec);

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw DownloadError("cannot initialise libcurl");
  char curl_error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "earshot-model-downloader");
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  // Give up on a stalled transfer: under 1 KiB/s for a minute.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  const std::string range = std::to_string(t.offset) + "-";
  if (t.offset > 0) curl_easy_setopt(curl.get(), CURLOPT_RANGE, range.c_str());

  // The status is needed in on_body before any byte is written.
  curl_easy_setopt(
      curl.get(), CURLOPT_HEADERFUNCTION,
      +[](char* data, std::size_t size, std::size_t n, void* user) -> std::size_t {
        auto* tr = static_cast<Transfer*>(user);
        const std::string line(data, size * n);
        if (line.rfind("HTTP/", 0) == 0) {
          const auto sp = line.find(' ');
          if (sp != std::string::npos) tr->status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
          tr->linked_etag.clear();  // a redirect's headers do not describe the file
        }
        return on_header(data, size, n, user);
      });

  const CURLcode rc = curl_easy_perform(curl.get());
  if (t.file != nullptr) std::fclose(t.file);
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc == CURLE_HTTP_RETURNED_ERROR && status == 416 && t.offset > 0) {
    // The .part file is already whole (the server has nothing past its end): verify it.
  } else if (rc != CURLE_OK) {
    const std::string why =
        !t.error.empty() ? t.error : (curl_error[0] != '\0' ? curl_error : curl_easy_strerror(rc));
    throw DownloadError("download of " + options.url + " failed: " + why +
                        (std::filesystem::exists(part, ec)
                             ? " (partial file kept; run the command again to resume)"
                             : ""));
  }

  DownloadResult result;
  result.resumed = t.append;
  result.bytes = std::filesystem::file_size(part, ec);
  if (ec) throw DownloadError("download of " + options.url + " produced no file");

  std::string sha256 = lower(options.expected_sha256);
  if (sha256.empty() && t.linked_etag.size() == 64) sha256 = t.linked_etag;
  if (!options.expected_sha1.empty()) {
    const auto got = file_sha1(part);
    if (got != lower(options.expected_sha1)) {
      std::filesystem::remove(part, ec);
      throw DownloadError("checksum mismatch for " + options.url + ": SHA-1 " + got +
                          ", expected " + lower(options.expected_sha1) + " (the file was deleted)");
    }
    result.verified_with = "sha1";
  } else if (!sha256.empty()) {
    const auto got = file_sha256(part);
    if (got != sha256) {
      std::filesystem::remove(part, ec);
      throw DownloadError("checksum mismatch for " + options.url + ": SHA-256 " + got +
                          ", expected " + sha256 + " (the file was deleted)");
    }
    result.verified_with = "sha256";
  } else if (options.require_checksum) {
    std::filesystem::remove(part, ec);
    throw DownloadError(
        "no published checksum for " + options.url +
        "; pass --sha256 to verify it yourself or --no-verify to accept it unverified");
  }
  std::filesystem::rename(part, options.destination, ec);
  if (ec)
    throw DownloadError("cannot move the download into " + options.destination.string() + ": " +
                        ec.message());
  return result;
}

}  // namespace earshot::models
