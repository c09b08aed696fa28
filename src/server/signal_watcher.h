#pragma once

// SIGINT, SIGTERM and SIGHUP, taken by one thread with sigwait() and handed to an io_context.
//
// The signals are blocked in every thread of the server (block_stop_signals() runs before the
// first thread starts, and threads inherit the mask), so none is ever interrupted by them and
// none can swallow one: with handlers instead (asio's signal_set), a signal landing on a
// thread that is not in a system call is only acted on once that thread next makes one, which
// ThreadSanitizer's runtime showed as a SIGINT that never stopped an idle server.

#include <atomic>
#include <functional>
#include <thread>

#include <boost/asio/io_context.hpp>

namespace earshot::server {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every thread it starts
// afterwards). Call before any thread is started.
void block_stop_signals();

class SignalWatcher {
 public:
  // Starts the thread; on_signal(signo) then runs on `ioc` for each signal received.
  SignalWatcher(boost::asio::io_context& ioc, std::function<void(int)> on_signal);
  // Stops and joins the thread; signals arriving afterwards stay blocked (pending).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  boost::asio::io_context& ioc_;
  std::function<void(int)> on_signal_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace earshot::server
