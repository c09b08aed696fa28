#pragma once

// Owning handles for the FFmpeg objects the audio stage creates. Each FFmpeg type has its
// own release function (several take a pointer-to-pointer); these deleters call the right
// one so every early return and exception frees what was allocated.

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
}

namespace earshot::audio {

struct AvioContextDeleter {
  void operator()(AVIOContext* avio) const noexcept {
    // FFmpeg may have replaced the buffer handed to avio_alloc_context, so free the one it
    // holds now.
    av_freep(&avio->buffer);
    avio_context_free(&avio);
  }
};
using AvioContextPtr = std::unique_ptr<AVIOContext, AvioContextDeleter>;

// For a context opened by avformat_open_input (not one merely allocated).
struct InputFormatDeleter {
  void operator()(AVFormatContext* format) const noexcept { avformat_close_input(&format); }
};
using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;

struct CodecContextDeleter {
  void operator()(AVCodecContext* codec) const noexcept { avcodec_free_context(&codec); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;

struct PacketDeleter {
  void operator()(AVPacket* packet) const noexcept { av_packet_free(&packet); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

struct FrameDeleter {
  void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;

struct SwrContextDeleter {
  void operator()(SwrContext* swr) const noexcept { swr_free(&swr); }
};
using SwrContextPtr = std::unique_ptr<SwrContext, SwrContextDeleter>;

// An AVChannelLayout value that owns its (possibly heap-allocated custom) channel map.
class ChannelLayout {
 public:
  ChannelLayout() = default;
  ChannelLayout(const ChannelLayout&) = delete;
  ChannelLayout& operator=(const ChannelLayout&) = delete;
  ~ChannelLayout() { av_channel_layout_uninit(&layout_); }

  AVChannelLayout* get() noexcept { return &layout_; }
  const AVChannelLayout* get() const noexcept { return &layout_; }

 private:
  AVChannelLayout layout_{};
};

// FFmpeg's text for an AVERROR code, e.g. "Invalid data found when processing input".
std::string av_error_text(int code);

}  // namespace earshot::audio
