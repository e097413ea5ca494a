// Signal handling for `run`: SIGUSR1 reloads the config; the stop signals are libmilter's.
#include "milter/signals.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <exception>

#include "shared/base/log.h"

namespace smsm {

namespace {
std::atomic<bool> g_stop_reload{false};
}

void block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

bool take_pending_stop() {
    sigset_t pending, stops;
    sigemptyset(&stops);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stops, sig);
    if (sigpending(&pending) != 0) return false;
    bool stop = false;
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) stop = stop || sigismember(&pending, sig) == 1;
    if (!stop) return false;
    const timespec now{0, 0};
    while (sigtimedwait(&stops, nullptr, &now) > 0) {
    }
    return true;
}

ReloadThread::ReloadThread(std::function<void()> on_reload) : on_reload_(std::move(on_reload)) {
    thread_ = std::thread([this] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) continue;
            if (g_stop_reload) return;
            // A reload that fails keeps the running configuration; nothing it throws may end
            // the daemon (an exception leaving this thread would call std::terminate).
            try {
                on_reload_();
            } catch (const std::exception& e) {
                log::error("reload failed: {}; keeping the previous configuration", e.what());
            } catch (...) {
                log::error("reload failed; keeping the previous configuration");
            }
        }
    });
}

ReloadThread::~ReloadThread() {
    g_stop_reload = true;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
}

}  // namespace smsm
