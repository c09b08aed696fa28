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
  bool handshake_done_ = !kTls;
  bool body_timed_out_ = false;  // the body deadline passed: the answer is 408
  bool shutdown_cut_ = false;    // the shutdown grace ended: the answer is 503, written quickly
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  RequestContext context_;
  std::string remote_address_;  // the client's address without port, for the auth limiter
  const Route* route_ = nullptr;
  std::string method_;
  std::chrono::steady_clock::time_point started_;
  bool in_flight_ = false;  // a request has been read and not yet fully answered
  // The handler's Exchange while the request is dispatched and unanswered.
  std::weak_ptr<SessionExchange<BasicHttpSession>> exchange_;
  std::shared_ptr<std::atomic<bool>> client_gone_;
  bool watching_ = false;
  std::uint64_t watch_generation_ = 0;
  bool streaming_ = false;
  bool stream_writing_ = false;
  bool stream_finished_ = false;
  std::size_t stream_bytes_ = 0;
  unsigned stream_status_ = 0;
  std::deque<std::string> stream_queue_;
  bool close_after_write_ = false;
  bool closed_ = false;
};

using PlainHttpSession = BasicHttpSession<boost::beast::tcp_stream>;
using TlsHttpSession = BasicHttpSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

}  // namespace earshot::server
