#pragma once

// Request routing: exact paths, each with its methods, whether it needs a token, and how its
// errors are shaped (the original server's or OpenAI's envelope).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it
#include <vector>

#include <boost/beast/http.hpp>

namespace earshot::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// The JSON shape of an error body.
enum class ErrorStyle {
  kOriginal,  // {"Error": "...", "status": "failed"}, as the aiohttp server answered
  kOpenAI,    // {"error": {"message", "type", "param", "code"}}
};

// What the server knows about a request beyond its bytes.
struct RequestContext {
  std::string remote;       // "address:port" of the client
  std::string token_label;  // label of the accepted token; empty on unauthenticated routes
  std::string path;         // target without the query
  std::string query;        // after '?', undecoded; empty when none
};

// One request's way back to its client. Thread-safe: a handler may answer from any thread
// (an inference worker). The first answer wins; later calls are ignored.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // A complete answer.
  virtual void respond(Response&& response) = 0;
  // An incremental answer (Server-Sent Events): the head's status and headers go out at
  // once with chunked transfer encoding; each write() is one chunk; finish() ends it.
  virtual void start_stream(Response&& head) = 0;
  virtual void write(std::string data) = 0;
  virtual void finish() = 0;
  // Raised when the client disconnects before the answer is complete.
  virtual std::shared_ptr<std::atomic<bool>> client_gone() const = 0;
};

using Handler = std::function<void(Request&, const RequestContext&, std::shared_ptr<Exchange>)>;

// A WebSocket connection's way to its client. Thread-safe: messages may be sent from any
// thread; they go out in order. A client that does not read them fast enough is dropped
// (close code 1008) rather than let the queue grow.
class WebSocketChannel {
 public:
  virtual ~WebSocketChannel() = default;
  virtual void send_text(std::string message) = 0;
  // Closes with `code` (RFC 6455 section 7.4) once what is queued is written.
  virtual void close(std::uint16_t code, std::string reason) = 0;
};

// What a WebSocket route does with one connection: its messages in order, on the
// connection's own strand (one at a time), then on_closed once, whoever closed it.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  virtual void on_message(std::string_view data, bool text) = 0;
  virtual void on_closed() = 0;
};

// A WebSocket route's decision on an upgrade request, taken before the handshake: an HTTP
// refusal, or how to open the connection (`open` gets the channel once the handshake is
// done; what it captures, such as a reserved session slot, lives as long as the handler).
struct WebSocketAdmission {
  http::status status = http::status::ok;  // not ok: refused with this status
  std::string message;
  std::string code;
  std::function<std::shared_ptr<WebSocketHandler>(std::shared_ptr<WebSocketChannel>)> open;
};
using WebSocketAdmit = std::function<WebSocketAdmission(const Request&, const RequestContext&)>;

struct Route {
  std::string path;
  std::vector<http::verb> methods;  // GET implies HEAD
  bool authenticated = true;
  ErrorStyle error_style = ErrorStyle::kOriginal;
  Handler handler;
};

class Router {
 public:
  void add(Route route);
  // A WebSocket route: a GET with Upgrade: websocket, admitted by `admit` (the route's
  // handler answers requests that are no upgrade).
  void add_websocket(Route route, WebSocketAdmit admit);
  // The admission of the WebSocket route at `path`, nullptr when it is none.
  const WebSocketAdmit* websocket(std::string_view path) const;
  // nullptr when no route has this path.
  const Route* find(std::string_view path) const;
  static bool allows(const Route& route, http::verb method);
  // The Allow header value for a route, e.g. "GET, HEAD".
  static std::string allow_header(const Route& route);

 private:
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, WebSocketAdmit>> websockets_;
};

// The error style for a path no route matched: OpenAI's under /v1/, the original elsewhere.
ErrorStyle error_style_for_path(std::string_view path);

// A JSON response with the given status and body; adds Content-Type and length.
Response json_response(http::status status, const std::string& body, unsigned version,
                       bool keep_alive);

// The one place an error becomes an answer: in the original style
// {"Error": message, "status": "failed"}; in OpenAI's, {"error": {message, type, param, code}}
// with the type OpenAI gives the status (429 rate_limit_error, other 4xx
// invalid_request_error, 5xx server_error) and param/code null when empty.
Response error_response(http::status status, std::string_view message, ErrorStyle style,
                        unsigned version, bool keep_alive, std::string_view param = {},
                        std::string_view code = {});

}  // namespace earshot::server
