#pragma once

// One Realtime API transcription session (GET /v1/realtime?intent=transcription): the
// client's audio, turned into utterances by Silero VAD (turn_detection server_vad) or by the
// client's commits, each transcribed on the engine's workers; partial text while the speaker
// talks (LocalAgreement), the final text when the turn ends. See docs/realtime.md.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "earshot/audio.h"
#include "earshot/vad.h"
#include "server/config.h"
#include "server/local_agreement.h"
#include "server/realtime_protocol.h"
#include "server/router.h"

namespace earshot::server {

struct TranscriptionService;

class RealtimeSession final : public WebSocketHandler,
                              public std::enable_shared_from_this<RealtimeSession> {
 public:
  RealtimeSession(std::shared_ptr<const TranscriptionService> service, RealtimeConfig config,
                  std::shared_ptr<WebSocketChannel> channel, std::string id, std::string remote,
                  bool beta);
  ~RealtimeSession() override;

  // Sends session.created (or transcription_session.created).
  void start();
  void on_message(std::string_view data, bool text) override;
  void on_closed() override;

 private:
  struct Utterance {
    std::string item_id;
    std::vector<float> samples;  // 16 kHz
    LocalAgreement agreement;
  };
  enum class Decode { kPartial, kFinal };

  void handle(const nlohmann::json& event);
  void append(const nlohmann::json& event, const std::string& event_id);
  void process_chunk(std::span<const float> chunk);
  void begin_speech(std::size_t chunk_start);
  void end_speech(std::size_t audio_end_sample, bool cut);
  void commit_current();
  void schedule();
  void run_decode(const std::string& item_id, std::vector<float> samples, Decode kind);
  void decoded(const std::string& item_id, Decode kind, const Transcription* result,
               const std::string& failure);
  void send(nlohmann::json event);
  void fail(const ProtocolError& error, const std::string& event_id);
  std::string next_item_id();
  double ms(std::size_t samples) const { return static_cast<double>(samples) / 16.0; }

  std::shared_ptr<const TranscriptionService> service_;
  RealtimeConfig config_;
  std::shared_ptr<WebSocketChannel> channel_;
  std::string id_;
  std::string remote_;

  std::mutex mutex_;  // everything below: messages arrive on the connection, results on workers
  RealtimeSettings settings_;
  bool configured_ = false;  // a session.update has been applied
  std::unique_ptr<PcmStreamResampler> resampler_;
  std::unique_ptr<VadStream> vad_;
  std::vector<float> pending_;        // resampled samples short of a VAD chunk
  std::size_t received_ = 0;          // 16 kHz samples received in the session
  std::deque<float> prefix_;          // the last prefix_padding_ms before speech (server_vad)
  std::optional<Utterance> current_;  // speech being heard (or, without VAD, the buffer)
  std::size_t speech_start_ = 0;      // session sample where current_ began
  std::size_t silence_run_ = 0;       // samples of low probability at the end of current_
  std::size_t last_pause_ = 0;        // in current_: where its last pause of 96 ms or more ended
  std::size_t partial_at_ = 0;        // current_'s size at its last partial decode
  std::deque<Utterance> finals_;      // committed, waiting for their final decode, in order
  std::string last_item_;             // the previous committed item (previous_item_id)
  bool decoding_ = false;             // a job of this session is queued or running
  std::uint64_t next_item_ = 0;
  std::uint64_t next_event_ = 0;
  bool closed_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace earshot::server
