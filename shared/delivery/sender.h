// The sender. One dispatcher thread keeps up to send_concurrency create requests in flight
// through an SmsTransport (libcurl's multi interface: kept-alive connections, one CA store),
// claims due jobs from the outbox in batches (durably `sending` before any request of the
// batch can leave), starts at most twilio_send_rate of them per second (pacer.h), and to one
// number no two within destination_rate_delay (spacing.h), and records
// each outcome: sent, deferred with backoff, or failed (with a notice when configured). A
// job of uncertain outcome (check_first) is looked up in Twilio's message list by a helper
// thread before any resend, and failure notices are mailed by another, so that neither a
// slow lookup nor sendmail ever stalls the requests in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shared/config/config_holder.h"
#include "shared/outbox/outbox.h"
#include "shared/twilio/transport.h"
#include "shared/twilio/twilio.h"

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
    Sender(ConfigHolder& config, Outbox& outbox, TwilioFactory twilio = twilio_over_https())
        : config_(config), outbox_(outbox), twilio_(std::move(twilio)) {}
    ~Sender() { stop(); }
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    void start();
    // Starts nothing new, lets the requests in flight end (twilio_timeout at most), puts
    // claimed jobs that were not sent back in the queue, and mails the notices still due.
    void stop();
    void wake();  // new jobs are due
    // How often jobs left `sending` by a failed state write are looked for (tests shorten it).
    void set_sweep_interval(std::chrono::milliseconds every) { sweep_interval_ = every; }
    // shared_state: the alerts every relay held back in the closed shared storms this relay
    // opened, by shared storm id (SharedState::take_storm_held); set before start().
    using StormHeld =
        std::function<std::map<std::string, std::int64_t>(const std::vector<std::string>&)>;
    void set_storm_held(StormHeld held) { storm_held_ = std::move(held); }

    // eom_wait: watch() the jobs before wake(), then wait_first_answers() until each has its
    // first answer or the deadline passes, calling progress about every 10 s. Jobs that fail
    // for good while watched get no failure notice; release() sends the notices that are
    // still owed (notify = true) or drops them (the SMTP reply told the client instead).
    void watch(const std::vector<std::int64_t>& ids);
    std::map<std::int64_t, FirstAnswer> wait_first_answers(
        const std::vector<std::int64_t>& ids, std::chrono::steady_clock::time_point deadline,
        const std::function<void()>& progress);
    void release(const std::vector<std::int64_t>& ids, bool notify);

    // Create requests are waiting to start (claimed or due, and no room or pace for them):
    // the status poller waits, so that polls never delay a send.
    bool creates_waiting() const { return creates_waiting_.load(std::memory_order_relaxed); }

    // Mails a failure notice for something that is not a job of the outbox (an SMS recipient
    // refused at end of message), on the notice thread, with this configuration.
    void mail_notice(std::shared_ptr<const Config> cfg, Job job, std::string reason);

  private:
    struct Dispatch;  // the dispatcher thread's own state
    void dispatch();
    bool refresh_transport(Dispatch& d);
    std::chrono::steady_clock::time_point run_until(const Dispatch& d, bool may_start);
    void take_due(Dispatch& d);
    void note_creates_waiting(const Dispatch& d);
    void note_room(Dispatch& d, std::uint64_t generation);
    void close_storms();
    int sweep_stranded(const Dispatch& d);
    void start_job(Dispatch& d, const Job& job, bool looked_up);
    void finish_job(const Job& job, const SendResult& r, const Config& cfg);
    void look_up();
    void mail_notices();

    bool expired(const Job& job, const Config& cfg);
    bool check_before_resend(const Job& job, MessageLookup& lookup, const Config& cfg);
    static std::string creating_key(const Job& job);  // number and text
    bool creating(const Job& job);  // a create of this text to this number is in flight
    void record(const Job& job, const SendResult& r, const Config& cfg);
    void defer(const Job& job, const Config& cfg, std::chrono::seconds delay,
               const std::string& error, bool check_first);
    // refused: Twilio refused this SMS for good (as opposed to our giving up on it).
    void fail(const Job& job, const Config& cfg, const std::string& error, bool refused,
              int code = 0);
    void answered(const Job& job, FirstAnswer answer);
    void notify_later(std::int64_t id, const std::string& reason);  // the notice thread mails
    struct Notice;
    void queue_notice(Notice notice);
    void recover(const Job& job, const Config& cfg, const std::exception& e);
    void deferred_until(Clock::time_point next, bool check_first);
    void wake_locked();

    ConfigHolder& config_;
    Outbox& outbox_;
    TwilioFactory twilio_;
    std::mutex mutex_;
    std::condition_variable answer_cv_, lookup_cv_, notice_cv_;
    bool stopping_ = false;
    bool notices_stopping_ = false;
    std::uint64_t generation_ = 0;       // bumped by wake()
    bool sends_full_ = false;            // every create in flight, as of the last claim
    SmsTransport* transport_ = nullptr;  // the dispatcher's, for wake()
    std::deque<Job> lookups_;            // claimed with check_first: for the lookup thread
    std::size_t lookups_open_ = 0;       // claimed for a lookup and not yet through it
    std::int64_t looking_up_ = 0;        // the job the lookup thread has now; 0: none
    std::chrono::milliseconds sweep_interval_ = std::chrono::minutes(5);
    StormHeld storm_held_;
    std::deque<Job> resends_;              // looked up and not found: for the dispatcher
    std::multiset<std::string> creating_;  // creating_key() of each create in flight
    // The earliest deferral since the dispatcher last looked: [0] to send, [1] to look up.
    Clock::time_point deferred_[2] = {Clock::time_point::max(), Clock::time_point::max()};
    struct Notice {
        std::int64_t id = 0;  // a job of the outbox; 0: `job` says what it is about
        std::string reason;
        Job job;
        std::shared_ptr<const Config> cfg;  // null: the current one
    };
    std::deque<Notice> notices_;
    std::thread dispatcher_, lookup_thread_, notice_thread_;
    std::map<std::int64_t, std::optional<FirstAnswer>> watched_;
    std::map<std::int64_t, std::string> owed_notices_;  // job id -> failure reason
    Clock::time_point last_auth_complaint_{};
    std::atomic<bool> creates_waiting_{false};
};

}  // namespace smsm
