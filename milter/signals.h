// Signal handling for `run`. libmilter's own thread handles SIGHUP, SIGTERM and SIGINT (stop);
// ours waits for SIGUSR1 (reload) with sigwait. Call block_signals() before any thread starts.
#pragma once

#include <functional>
#include <thread>

namespace smsm {

void block_signals();

class ReloadThread {
  public:
    explicit ReloadThread(std::function<void()> on_reload);
    ~ReloadThread();
    ReloadThread(const ReloadThread&) = delete;
    ReloadThread& operator=(const ReloadThread&) = delete;

  private:
    std::function<void()> on_reload_;
    std::thread thread_;
};

}  // namespace smsm
