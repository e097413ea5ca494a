// The sender: one worker thread that takes due jobs from the outbox, hands them to Twilio
// and records the outcome (sent, deferred with backoff, or failed).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "shared/config_holder.h"
#include "shared/outbox.h"
#include "shared/twilio.h"

namespace smsm {

// The delay before attempt number `attempts + 1`: minimal_backoff_time doubled per attempt,
// capped at maximal_backoff_time; a Retry-After from Twilio wins when longer.
std::chrono::seconds backoff_delay(const Config& cfg, int attempts,
                                   std::optional<std::chrono::seconds> retry_after);

class Sender {
  public:
    Sender(ConfigHolder& config, Outbox& outbox) : config_(config), outbox_(outbox) {}
    ~Sender() { stop(); }
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    void start();
    void stop();
    void wake();  // new jobs are due

  private:
    void run();
    void handle(const Job& job, TwilioClient& client, const Config& cfg);
    void wait_for_work();

    ConfigHolder& config_;
    Outbox& outbox_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
    Clock::time_point last_auth_complaint_{};
};

}  // namespace smsm
