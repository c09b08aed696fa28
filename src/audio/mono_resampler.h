#pragma once

#include <vector>

#include "audio/ffmpeg_handles.h"

namespace earshot::audio {

// Turns decoded frames of any sample format, rate and channel layout into mono float32 at
// one output rate, appending to a caller's buffer. A stream may change its parameters
// mid-way (chained Ogg, concatenated MP3), so the converter is rebuilt whenever a frame
// differs from the previous one, after draining what the old one still holds.
class MonoResampler {
 public:
  // The highest input sample rate accepted, in Hz (see configure()).
  static constexpr int kMaxInputRate = 768000;

  explicit MonoResampler(int output_rate) : output_rate_(output_rate) {}

  // Throws Error(kAudioDecode) on a frame swresample cannot convert, or one whose sample rate
  // is above kMaxInputRate.
  void convert(const AVFrame& frame, std::vector<float>& out);
  // Appends what the converter still buffers (the resampling filter's tail).
  void flush(std::vector<float>& out);

 private:
  bool matches(const AVFrame& frame) const;
  void configure(const AVFrame& frame);

  int output_rate_;
  SwrContextPtr swr_;
  int input_format_ = -1;
  int input_rate_ = 0;
  ChannelLayout input_layout_;
};

}  // namespace earshot::audio
