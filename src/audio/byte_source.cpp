#include "audio/byte_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <sys/stat.h>

#include "earshot/error.h"

namespace earshot::audio {
namespace {

// Bytes FFmpeg reads per callback; large enough that a file is read in few calls.
constexpr int kAvioBufferSize = 64 * 1024;

int read_callback(void* opaque, std::uint8_t* buffer, int size) {
  return static_cast<ByteSource*>(opaque)->read(buffer, size);
}

std::int64_t seek_callback(void* opaque, std::int64_t offset, int whence) {
  auto* source = static_cast<ByteSource*>(opaque);
  // AVSEEK_FORCE only tells a network protocol that seeking is worth its cost.
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) {
    return source->size();
  }
  return source->seek(offset, whence);
}

}  // namespace

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof text) < 0) {
    return "error " + std::to_string(code);
  }
  return text;
}

int MemoryByteSource::read(std::uint8_t* buffer, int size) noexcept {
  if (size <= 0) {
    return 0;
  }
  if (position_ >= bytes_.size()) {
    return AVERROR_EOF;
  }
  const std::size_t count = std::min(static_cast<std::size_t>(size), bytes_.size() - position_);
  std::memcpy(buffer, bytes_.data() + position_, count);
  position_ += count;
  return static_cast<int>(count);
}

std::int64_t MemoryByteSource::seek(std::int64_t offset, int whence) noexcept {
  const auto length = static_cast<std::int64_t>(bytes_.size());
  std::int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = static_cast<std::int64_t>(position_);
      break;
    case SEEK_END:
      base = length;
      break;
    default:
      return AVERROR(EINVAL);
  }
  // Positions past the end are allowed (as with files); reads there return EOF.
  if (offset > 0 ? base > INT64_MAX - offset : base < -offset) {
    return AVERROR(EINVAL);
  }
  const std::int64_t target = base + offset;
  position_ = static_cast<std::size_t>(target);
  return target;
}

FileByteSource::FileByteSource(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kIo, "cannot read audio file '" + path.string() + "': is a directory");
  }
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) {
    throw Error(ErrorCode::kIo, "cannot open audio file '" + path.string() +
                                    "': " + std::generic_category().message(errno));
  }
}

int FileByteSource::read(std::uint8_t* buffer, int size) noexcept {
  if (size <= 0) {
    return 0;
  }
  const std::size_t count = std::fread(buffer, 1, static_cast<std::size_t>(size), file_.get());
  if (count > 0) {
    return static_cast<int>(count);
  }
  if (std::ferror(file_.get())) {
    failed_ = true;
    return AVERROR(EIO);
  }
  return AVERROR_EOF;
}

std::int64_t FileByteSource::seek(std::int64_t offset, int whence) noexcept {
  std::clearerr(file_.get());
  if (fseeko(file_.get(), static_cast<off_t>(offset), whence) != 0) {
    return AVERROR(errno);
  }
  return ftello(file_.get());
}

std::int64_t FileByteSource::size() noexcept {
  struct stat info {};
  if (fstat(fileno(file_.get()), &info) != 0) {
    return AVERROR(errno);
  }
  if (!S_ISREG(info.st_mode)) {
    return AVERROR(ENOSYS);
  }
  return info.st_size;
}

AvioContextPtr make_avio_context(ByteSource& source) {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kAvioBufferSize));
  if (buffer == nullptr) {
    throw Error(ErrorCode::kInternal, "out of memory for the audio reader");
  }
  AVIOContext* avio = avio_alloc_context(buffer, kAvioBufferSize, /*write_flag=*/0, &source,
                                         read_callback, nullptr, seek_callback);
  if (avio == nullptr) {
    av_free(buffer);
    throw Error(ErrorCode::kInternal, "out of memory for the audio reader");
  }
  return AvioContextPtr(avio);
}

}  // namespace earshot::audio
