// Signal handling for `run`. libmilter's own thread handles SIGHUP, SIGTERM and SIGINT (stop);
// ours waits for SIGUSR1 (reload) with sigwait. Call block_signals() before any thread starts.
#pragma once

#include <functional>
#include <thread>

namespace smsm {

void block_signals();

// True (and the signal consumed) when a stop signal (SIGTERM, SIGINT, SIGHUP) arrived while the
// daemon was starting: every thread blocks them and libmilter's signal thread does not exist
// before smfi_main(), so it is still pending. Handled before smfi_main(), a stop during
// start-up is a clean stop; libmilter would find its listening socket closed under it and
// report a failure.
bool take_pending_stop();

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
