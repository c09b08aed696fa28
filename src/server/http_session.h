#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "server/router.h"

namespace earshot::server {

class HttpServer;

// "address:port" of a connected socket's peer ("[v6]:port" for IPv6), "?" when unknown: how
// logs name a client.
std::string endpoint_text(const boost::asio::ip::tcp::socket& socket);

// What the server's registry of open connections needs of a session, whatever its stream.
class Session {
 public:
  virtual ~Session() = default;
  virtual void start() = 0;
  // Called on shutdown: closes the connection unless a request is in flight.
  virtual void close_if_idle() = 0;
  // Called when the shutdown grace has ended (from any thread): a request still being read
  // or handled is answered 503 at once (a handler's later answer is dropped), an answer
  // already being written gets a short moment to finish, anything else is closed.
  virtual void end_for_shutdown() = 0;
  // Closes the connection whatever it is doing (from any thread).
  virtual void close_now() = 0;
};

template <class S>
class SessionExchange;

// One client connection: reads requests one after another (keep-alive), checks size, route
// and token before the body is read, hands complete requests to their route and writes the
// answers. Each reading phase has its own deadline (idle, header, body) on a timer of the
// session's own rather than on the stream, so that a body deadline can cancel the read and
// still answer 408 on the open connection; writes are bounded by the stream's expiry.
// `Stream` is beast::tcp_stream (plain HTTP) or beast::ssl_stream<beast::tcp_stream> (TLS).
template <class Stream>
class BasicHttpSession final : public Session,
                               public std::enable_shared_from_this<BasicHttpSession<Stream>> {
 public:
  template <class S>
  friend class SessionExchange;
  // `tls` is the server's TLS context for TLS sessions, nullptr for plain ones.
  BasicHttpSession(boost::asio::ip::tcp::socket&& socket, HttpServer& server,
                   boost::asio::ssl::context* tls);
  ~BasicHttpSession() override;

  void start() override;
  void close_if_idle() override;
  void end_for_shutdown() override;
  void close_now() override;

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;
  // The reading phase a deadline is armed for.
  enum class Phase { kNone, kIdle, kHeader, kBody };
  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }
  void arm_deadline(Phase phase, std::chrono::milliseconds after);
  void disarm_deadline();
  void on_deadline();
  // Closes the connection whatever it is doing. Call on the stream's executor.
  void force_close();
  // The deadline of the next write.
  std::chrono::milliseconds write_time() const;
  void wait_for_request();
  void read_header();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_body(boost::beast::error_code ec);
  void dispatch();
  void upgrade();
  // Streaming answers (see Exchange): chunks queued and written in order.
  void stream_start(Response&& head);
  void stream_write(std::string data);
  void stream_finish();
  void write_next_chunk();
  // While a handler works, notices a client that hangs up and raises client_gone_.
  void watch_disconnect();
  void stop_watching();
  void request_done();
  void reject(http::status status, std::string_view message, ErrorStyle style,
              std::optional<std::string> allow = std::nullopt,
              std::optional<std::string> retry_after = std::nullopt);
  void send(Response&& res);
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_gracefully();
  void drain(std::size_t drained);
  void log_access(unsigned status, std::size_t bytes) const;
  // Logs a breach of the write deadline (body_timeout) once; the connection is then closed.
  void log_write_timeout(std::size_t bytes);

  Stream stream_;
  HttpServer& server_;
  boost::beast::flat_buffer buffer_;
  std::array<char, 4096> drain_buffer_{};
  boost::asio::steady_timer deadline_;
  Phase deadline_phase_ = Phase::kNone;
  std::uint64_t deadline_generation_ = 0;  // a deadline that fires after being replaced is stale
  // Where the connection is in its life, one phase at a time. Beside it are only what a phase
  // holds besides: the disconnect watch (watching_), a chunk write under way
  // (stream_writing_), and whether to close once the answer is out (close_after_write_).
  enum class State {
    kHandshake,  // the TLS handshake under way (a plain connection starts at kIdle)
    kIdle,       // between requests: waiting for a request header, or reading it
    kRequest,    // a request being read or handled, not yet answered
    kStreaming,  // its answer going out in chunks, the last not queued yet
    kStreamEnd,  // the last chunk queued: the request is done once it is written
    kClosed,
  };
  // Why the server cut the current request short: its answer is then the server's own (408
  // when the body deadline passed, 503 when the shutdown grace ended), written quickly. A
  // passed body deadline wins over the shutdown.
  enum class Cut { kNone, kBodyTimeout, kShutdown };
  bool closed() const { return state_ == State::kClosed; }
  // A request has been read (at least its header) and not yet fully answered.
  bool in_flight() const {
    return state_ == State::kRequest || state_ == State::kStreaming || state_ == State::kStreamEnd;
  }
  State state_ = kTls ? State::kHandshake : State::kIdle;
  Cut cut_ = Cut::kNone;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  RequestContext context_;
  std::string remote_address_;  // the client's address without port, for the auth limiter
  const Route* route_ = nullptr;
  std::string method_;
  std::chrono::steady_clock::time_point started_;
  // The handler's Exchange while the request is dispatched and unanswered.
  std::weak_ptr<SessionExchange<BasicHttpSession>> exchange_;
  std::shared_ptr<std::atomic<bool>> client_gone_;
  bool watching_ = false;
  std::uint64_t watch_generation_ = 0;
  bool stream_writing_ = false;
  std::size_t stream_bytes_ = 0;
  unsigned stream_status_ = 0;
  std::deque<std::string> stream_queue_;
  bool close_after_write_ = false;
};

using PlainHttpSession = BasicHttpSession<boost::beast::tcp_stream>;
using TlsHttpSession = BasicHttpSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

}  // namespace earshot::server
