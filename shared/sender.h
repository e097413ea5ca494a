// The sender: send_concurrency worker threads, each with its own Twilio client (and so its
// own reused TLS connection), take due jobs from the outbox and record the outcome: sent,
// deferred with backoff, or failed (with a notice when configured). Jobs of uncertain
// outcome are looked up in Twilio's message list before any resend.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "shared/config_holder.h"
#include "shared/outbox.h"
#include "shared/twilio.h"

namespace smsm {

// The delay before attempt number `attempts + 1`: minimal_backoff_time doubled per attempt,
// capped at maximal_backoff_time; a Retry-After from Twilio wins when longer.
std::chrono::seconds backoff_delay(const Config& cfg, int attempts,
                                   std::optional<std::chrono::seconds> retry_after);

// When a job deferred at `now` for `delay` falls due: up to 20% later, so that jobs deferred
// together do not retry together, never earlier (a Retry-After is a minimum), and on a whole
// second, since the outbox keeps whole seconds: within [now + delay, now + 1.2 * delay] unless
// that span holds no whole second (then the first one after it). `u` in [0, 1) picks where.
Clock::time_point retry_time(Clock::time_point now, std::chrono::seconds delay, double u);

// The first answer for a job, for end of message with eom_wait.
struct FirstAnswer {
    bool permanent_failure = false;  // Twilio refused it for good
    int code = 0;
    std::string error;
};

class Sender {
  public:
    Sender(ConfigHolder& config, Outbox& outbox) : config_(config), outbox_(outbox) {}
    ~Sender() { stop(); }
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    void start();
    void stop();
    void wake();  // new jobs are due

    // eom_wait: watch() the jobs before wake(), then wait_first_answers() until each has its
    // first answer or the deadline passes, calling progress about every 10 s. Jobs that fail
    // for good while watched get no failure notice; release() sends the notices that are
    // still owed (notify = true) or drops them (the SMTP reply told the client instead).
    void watch(const std::vector<std::int64_t>& ids);
    std::map<std::int64_t, FirstAnswer> wait_first_answers(
        const std::vector<std::int64_t>& ids, std::chrono::steady_clock::time_point deadline,
        const std::function<void()>& progress);
    void release(const std::vector<std::int64_t>& ids, bool notify);

  private:
    void worker();
    void run_job(const Job& job, TwilioClient& client, const Config& cfg);
    void handle(const Job& job, TwilioClient& client, const Config& cfg);
    bool check_before_resend(const Job& job, TwilioClient& client, const Config& cfg);
    void send(const Job& job, TwilioClient& client, const Config& cfg);
    void defer(const Job& job, const Config& cfg, std::chrono::seconds delay,
               const std::string& error, bool check_first);
    // refused: Twilio refused this SMS for good (as opposed to our giving up on it).
    void fail(const Job& job, const Config& cfg, const std::string& error, bool refused,
              int code = 0);
    void answered(const Job& job, FirstAnswer answer);
    void wait_for_work(std::uint64_t seen);

    ConfigHolder& config_;
    Outbox& outbox_;
    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable answer_cv_;
    bool stopping_ = false;
    std::uint64_t generation_ = 0;  // bumped by wake()
    std::vector<std::thread> threads_;
    std::map<std::int64_t, std::optional<FirstAnswer>> watched_;
    std::map<std::int64_t, std::string> owed_notices_;  // job id -> failure reason
    Clock::time_point last_auth_complaint_{};
    Clock::time_point last_purge_{};
};

}  // namespace smsm
