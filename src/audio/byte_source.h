#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>

#include "audio/ffmpeg_handles.h"

namespace earshot::audio {

// Where FFmpeg reads the container from. The AVIO callbacks are C functions, so these
// report failures as AVERROR codes, never as exceptions.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Up to `size` bytes into `buffer`: the count read, AVERROR_EOF at the end, or another
  // negative AVERROR on failure.
  virtual int read(std::uint8_t* buffer, int size) noexcept = 0;
  // fseek semantics (SEEK_SET/SEEK_CUR/SEEK_END): the new position or a negative AVERROR.
  virtual std::int64_t seek(std::int64_t offset, int whence) noexcept = 0;
  // Total size in bytes, or a negative AVERROR when unknown.
  virtual std::int64_t size() noexcept = 0;
  // True once a read failed for a reason other than reaching the end.
  virtual bool failed() const noexcept { return false; }
};

// Bytes already in memory; the span must outlive the source.
class MemoryByteSource final : public ByteSource {
 public:
  explicit MemoryByteSource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  int read(std::uint8_t* buffer, int size) noexcept override;
  std::int64_t seek(std::int64_t offset, int whence) noexcept override;
  std::int64_t size() noexcept override { return static_cast<std::int64_t>(bytes_.size()); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

// A regular file read with stdio. Opening it here, rather than handing the path to
// avformat_open_input, keeps FFmpeg from interpreting a path such as "concat:a|b" or
// "http://..." as a protocol URL.
class FileByteSource final : public ByteSource {
 public:
  // Throws Error(kIo) when the file cannot be opened.
  explicit FileByteSource(const std::filesystem::path& path);

  int read(std::uint8_t* buffer, int size) noexcept override;
  std::int64_t seek(std::int64_t offset, int whence) noexcept override;
  std::int64_t size() noexcept override;
  bool failed() const noexcept override { return failed_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  bool failed_ = false;
};

// An AVIOContext reading from `source`, which must outlive it. Seekable, read-only.
AvioContextPtr make_avio_context(ByteSource& source);

}  // namespace earshot::audio
