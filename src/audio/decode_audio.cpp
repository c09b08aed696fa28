// The audio stage's entry points: container bytes -> 16 kHz mono float32 through
// libavformat (demux), libavcodec (decode) and libswresample (downmix + resample).

#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "audio/byte_source.h"
#include "audio/ffmpeg_handles.h"
#include "audio/mono_resampler.h"
#include "earshot/audio.h"
#include "earshot/error.h"

extern "C" {
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

namespace earshot {
namespace {

using audio::av_error_text;

// The largest single allocation FFmpeg may make. Demuxers size some buffers from what the
// file claims: a 60-byte WAV whose INFO tag claims 1.6 GB made the wav demuxer allocate and
// zero 1.6 GB before finding the file short (fuzz/regressions/audio/wav-info-tag-3gb). No
// audio decode needs a block near this (packets, frames and resampler buffers are a few MB).
constexpr std::size_t kMaxFfmpegAllocation = std::size_t{64} << 20;

// Process-wide FFmpeg settings, set once: FFmpeg prints warnings about damaged input to
// stderr by default, and a server must not let uploads write to its log; and the
// allocation cap above.
void configure_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_QUIET);
    av_max_alloc(kMaxFfmpegAllocation);
  });
}

// Demuxers that follow references inside the data (HLS and DASH playlists, concat lists,
// QuickTime external references) open further URLs. Audio given to earshot is
// self-contained, and following those references from an upload would read local files or
// fetch URLs on the server's behalf, so every such open is refused: through this callback,
// and, for demuxers that open nested inputs with a context of their own (concat does in
// FFmpeg 5.1), through an empty protocol whitelist, which nested contexts inherit.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::kAudioDecode, message);
}

std::size_t max_samples_for(const AudioDecodeOptions& options) {
  if (!(options.max_seconds >= 0) || !std::isfinite(options.max_seconds)) {
    throw Error(ErrorCode::kInvalidArgument, "max_seconds must be a finite number >= 0");
  }
  if (options.max_seconds == 0) {
    return std::numeric_limits<std::size_t>::max();
  }
  return static_cast<std::size_t>(std::ceil(options.max_seconds * kSampleRate));
}

// One decode of one source, with everything FFmpeg allocated owned by its members.
class StreamDecoder {
 public:
  StreamDecoder(audio::ByteSource& source, const AudioDecodeOptions& options)
      : source_(source), max_samples_(max_samples_for(options)), options_(options) {}

  std::vector<float> run() {
    open_container();
    open_decoder();
    read_packets();
    if (source_.failed()) {
      throw Error(ErrorCode::kIo, "reading the audio failed");
    }
    drain_decoder_at_end();
    resampler_.flush(samples_);
    check_length();
    if (samples_.empty() && (rejected_ > 0 || read_error_ < 0)) {
      const int error = read_error_ < 0 ? read_error_ : last_decode_error_;
      fail("the " + codec_name() + " audio could not be decoded: " + av_error_text(error));
    }
    return std::move(samples_);
  }

 private:
  void open_container() {
    avio_ = audio::make_avio_context(source_);
    AVFormatContext* raw = avformat_alloc_context();
    if (raw == nullptr) {
      throw Error(ErrorCode::kInternal, "out of memory for the audio demuxer");
    }
    raw->pb = avio_.get();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    raw->io_open = refuse_nested_open;
    raw->protocol_whitelist = av_strdup("");
    if (raw->protocol_whitelist == nullptr) {
      avformat_free_context(raw);
      throw Error(ErrorCode::kInternal, "out of memory for the audio demuxer");
    }
    // On failure avformat_open_input frees the context and nulls `raw`.
    const int rc = avformat_open_input(&raw, nullptr, nullptr, nullptr);
    if (rc < 0) {
      if (source_.failed()) {
        throw Error(ErrorCode::kIo, "reading the audio failed");
      }
      fail("not a recognised audio format (" + av_error_text(rc) + ")");
    }
    format_.reset(raw);
    const int info = avformat_find_stream_info(format_.get(), nullptr);
    if (info < 0) {
      fail("cannot read the streams of the " + container_name() + " input (" + av_error_text(info) +
           ")");
    }
  }

  void open_decoder() {
    const AVCodec* codec = nullptr;
    const int index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (index == AVERROR_STREAM_NOT_FOUND) {
      fail("the " + container_name() + " input has no audio stream");
    }
    if (index < 0 || codec == nullptr) {
      fail("no decoder for the audio stream of the " + container_name() + " input (" +
           av_error_text(index) + ")");
    }
    stream_index_ = index;
    // Video, subtitles and other audio tracks are never decoded; discarding them also keeps
    // the demuxer from queueing their packets.
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      if (static_cast<int>(i) != stream_index_) {
        format_->streams[i]->discard = AVDISCARD_ALL;
      }
    }
    const AVStream* stream = format_->streams[stream_index_];
    check_stream_header(*stream->codecpar);

    decoder_.reset(avcodec_alloc_context3(codec));
    if (!decoder_) {
      throw Error(ErrorCode::kInternal, "out of memory for the audio decoder");
    }
    int rc = avcodec_parameters_to_context(decoder_.get(), stream->codecpar);
    if (rc >= 0) {
      decoder_->pkt_timebase = stream->time_base;
      // Requests run concurrently already; a decoder spawning its own threads per request
      // would only oversubscribe the cores.
      decoder_->thread_count = 1;
      rc = avcodec_open2(decoder_.get(), codec, nullptr);
    }
    if (rc < 0) {
      fail("cannot open the " + codec_name() + " decoder: " + av_error_text(rc));
    }

    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!packet_ || !frame_) {
      throw Error(ErrorCode::kInternal, "out of memory for audio frames");
    }
  }

  // What the container's header claims, refused before decoding where no real recording
  // could say it: FFmpeg would otherwise decode such a stream to silence or noise.
  void check_stream_header(const AVCodecParameters& par) const {
    if (par.sample_rate <= 0) {
      fail("the " + container_name() + " header declares a sample rate of " +
           std::to_string(par.sample_rate) + " Hz");
    }
    // RIFF/WAVE PCM (format tag 1) stores each sample in whole bytes; FFmpeg rounds another
    // wBitsPerSample up to the next byte and decodes the samples as that wider type.
    const bool pcm =
        par.codec_id >= AV_CODEC_ID_PCM_S16LE && par.codec_id < AV_CODEC_ID_ADPCM_IMA_QT;
    if (pcm && container_name() == "wav" && par.bits_per_coded_sample % 8 != 0) {
      fail("the WAV header declares " + std::to_string(par.bits_per_coded_sample) +
           " bits per sample; PCM WAV audio has 8, 16, 24, 32 or 64");
    }
  }

  void read_packets() {
    for (;;) {
      const int rc = av_read_frame(format_.get(), packet_.get());
      if (rc < 0) {
        // The end of the data, or damage the demuxer cannot get past: like `ffmpeg`, keep
        // what was decoded up to there (run() fails when that is nothing).
        if (rc != AVERROR_EOF) {
          read_error_ = rc;
        }
        return;
      }
      if (packet_->stream_index != stream_index_) {
        av_packet_unref(packet_.get());
        continue;
      }
      const int sent = avcodec_send_packet(decoder_.get(), packet_.get());
      av_packet_unref(packet_.get());
      if (sent == AVERROR(ENOMEM)) {
        throw Error(ErrorCode::kInternal, "out of memory decoding audio");
      }
      if (sent < 0) {
        // A damaged packet: skip it and go on, as `ffmpeg` does, so one bad frame in a long
        // recording does not lose the rest.
        ++rejected_;
        last_decode_error_ = sent;
        continue;
      }
      receive_frames();
    }
  }

  void drain_decoder_at_end() {
    if (avcodec_send_packet(decoder_.get(), nullptr) >= 0) {
      receive_frames();
    }
  }

  void receive_frames() {
    for (;;) {
      const int rc = avcodec_receive_frame(decoder_.get(), frame_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
        return;
      }
      if (rc < 0) {
        ++rejected_;
        last_decode_error_ = rc;
        return;
      }
      resampler_.convert(*frame_, samples_);
      av_frame_unref(frame_.get());
      check_length();
    }
  }

  void check_length() const {
    if (samples_.size() <= max_samples_) {
      return;
    }
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", options_.max_seconds);
    throw Error(ErrorCode::kInvalidArgument,
                std::string("audio is longer than the limit of ") + limit + " s");
  }

  std::string container_name() const {
    return format_ && format_->iformat ? format_->iformat->name : "unknown";
  }

  std::string codec_name() const {
    return decoder_ ? avcodec_get_name(decoder_->codec_id) : "unknown";
  }

  audio::ByteSource& source_;
  std::size_t max_samples_;
  const AudioDecodeOptions& options_;

  // Declared in dependency order: the format context reads through avio_, so it is
  // destroyed first.
  audio::AvioContextPtr avio_;
  audio::InputFormatPtr format_;
  audio::CodecContextPtr decoder_;
  audio::PacketPtr packet_;
  audio::FramePtr frame_;
  audio::MonoResampler resampler_{kSampleRate};

  int stream_index_ = -1;
  int rejected_ = 0;  // packets or frames the decoder refused as damaged
  int last_decode_error_ = 0;
  int read_error_ = 0;  // the demuxer's error when it stopped before the end, else 0
  std::vector<float> samples_;
};

std::vector<float> decode_source(audio::ByteSource& source, const AudioDecodeOptions& options) {
  configure_ffmpeg();
  try {
    return StreamDecoder(source, options).run();
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kInternal, "out of memory decoding audio");
  }
}

}  // namespace

std::vector<float> decode_audio(std::span<const std::uint8_t> bytes,
                                const AudioDecodeOptions& options) {
  if (bytes.empty()) {
    fail("the audio is empty (0 bytes)");
  }
  audio::MemoryByteSource source(bytes);
  return decode_source(source, options);
}

std::vector<float> decode_audio_file(const std::filesystem::path& path,
                                     const AudioDecodeOptions& options) {
  audio::FileByteSource source(path);
  if (source.size() == 0) {
    fail("the audio file '" + path.string() + "' is empty (0 bytes)");
  }
  try {
    return decode_source(source, options);
  } catch (const Error& error) {
    // Name the file: a command-line user may have given several.
    throw Error(error.code(), path.string() + ": " + error.what());
  }
}

}  // namespace earshot
