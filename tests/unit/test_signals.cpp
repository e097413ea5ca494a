// The reload thread: SIGUSR1 runs the reload, and a reload that throws does not end the
// process; the next SIGUSR1 reloads again.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "milter/signals.h"

using namespace smsm;

TEST_CASE("a reload that throws keeps the reload thread, and the process, alive") {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);  // as block_signals() does, for this thread
    std::atomic<int> calls{0};
    {
        ReloadThread reloader([&] {
            if (++calls == 1) throw std::runtime_error("aliases: cannot read");
        });
        for (int expected = 1; expected <= 2; ++expected) {
            kill(getpid(), SIGUSR1);
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (calls < expected && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            CHECK(calls == expected);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}
