#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace earshot {

// Whisper's input rate: every decoded stream is resampled to it.
inline constexpr int kSampleRate = 16000;

// Decodes audio in any container/codec FFmpeg knows (WAV, FLAC, MP3, OGG, Opus, WebM, M4A,
// MP4 ...) from memory into 16 kHz mono float32 samples in [-1, 1]. 16 kHz mono s16 WAV
// arrives bit-exactly as sample / 32768. Empty audio gives an empty vector.
// Throws earshot::Error(kAudioDecode) on bytes that are not decodable audio.
std::vector<float> decode_audio(std::span<const std::uint8_t> bytes);

// The same from a file. Throws earshot::Error(kIo) when the file cannot be read.
std::vector<float> decode_audio_file(const std::filesystem::path& path);

}  // namespace earshot
