#pragma once

#include <stdexcept>
#include <string>

namespace earshot {

// What went wrong, in terms a caller can act on (the server maps each to a status code).
enum class ErrorCode {
  kInvalidArgument,  // an option or parameter out of range
  kModelFormat,      // a model file that is truncated, foreign or inconsistent
  kAudioDecode,      // bytes that are not decodable audio
  kIo,               // a file that cannot be opened or read
  kCancelled,        // the caller's cancellation flag was raised
  kInternal,         // a bug or resource failure inside earshot
};

// The one exception type earshot's libraries throw across their public API.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace earshot
