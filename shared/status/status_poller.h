// The status poller (SPEC §9): one thread that follows each sent SMS at Twilio until its
// status is final, and, with reply_forwarding = yes, reads the replies to the sending
// number(s) and mails them back.
//
//  - Status: GET .../Messages/{SM}.json when the job's next_poll (outbox) falls due, on
//    status_poll_schedule, until delivered, undelivered or failed, or status_poll_give_up
//    after the send. The schedule lives in the outbox: a restart resumes it. A final status
//    is recorded, counted and logged once; undelivered and failed are permanent failures:
//    the failure notice goes out where failure_notice says, with the error in words.
//  - Replies: every reply_poll_interval, GET .../Messages.json?To=<sending number> since
//    where the last poll left off; each inbound message's SID is remembered in the outbox
//    before its mail goes out (exactly once across restarts; a crash while sendmail runs
//    loses that one reply rather than mailing it twice).
//  - Pacing: polls come after creates. One request at a time over one connection of its own
//    (one of Twilio's concurrent requests at most), never while the sender has creates
//    waiting to start, and no faster than twilio_send_rate (10 per second when that is 0).
//    A 429 pauses the poller for Twilio's Retry-After (a minute at least).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "shared/config/config_holder.h"
#include "shared/delivery/pacer.h"
#include "shared/delivery/sender.h"
#include "shared/outbox/outbox.h"

namespace smsm {

class TwilioClient;
struct InboundMessage;

class StatusPoller {
  public:
    StatusPoller(ConfigHolder& config, Outbox& outbox, Sender& sender)
        : config_(config), outbox_(outbox), sender_(sender) {}
    ~StatusPoller() { stop(); }
    StatusPoller(const StatusPoller&) = delete;
    StatusPoller& operator=(const StatusPoller&) = delete;

    void start();
    void stop();  // the request in flight ends within twilio_timeout

  private:
    using Steady = std::chrono::steady_clock;
    void run();
    void round(const Config& cfg, TwilioClient& client);
    void poll_statuses(const Config& cfg, TwilioClient& client);
    void poll_one(const Config& cfg, TwilioClient& client, const Job& job);
    void poll_replies(const Config& cfg, TwilioClient& client);
    void poll_replies_to(const Config& cfg, TwilioClient& client, const std::string& to);
    void handle_reply(const Config& cfg, const InboundMessage& reply);
    bool may_request();  // waits for the pacer and for the sender; false: stopping or paused
    bool sleep_until(Steady::time_point until);  // false: stopping

    ConfigHolder& config_;
    Outbox& outbox_;
    Sender& sender_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
    Pacer pacer_;
    Steady::time_point paused_until_{};  // after a 429
    Steady::time_point next_reply_poll_{};
    Steady::time_point last_auth_complaint_{};
};

}  // namespace smsm
