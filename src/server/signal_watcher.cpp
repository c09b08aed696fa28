#include "server/signal_watcher.h"

#include <pthread.h>

#include <csignal>
#include <system_error>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/asio/post.hpp>

namespace earshot::server {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signals();
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  }
}

SignalWatcher::SignalWatcher(boost::asio::io_context& ioc, std::function<void(int)> on_signal)
    : ioc_(ioc), on_signal_(std::move(on_signal)) {
  block_stop_signals();
  thread_ = std::thread([this] {
    const sigset_t set = stop_signals();
    for (;;) {
      int signo = 0;
      if (sigwait(&set, &signo) != 0) continue;
      if (stopping_.load()) return;
      boost::asio::post(ioc_, [this, signo] { on_signal_(signo); });
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stopping_.store(true);
  // Wakes the sigwait() with a signal directed at that thread alone.
  pthread_kill(thread_.native_handle(), SIGHUP);
  thread_.join();
}

}  // namespace earshot::server
