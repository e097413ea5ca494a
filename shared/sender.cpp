// The sender worker: outbox -> Twilio -> outbox.
#include "shared/sender.h"

#include "shared/log.h"
#include "shared/strings.h"

namespace smsm {

namespace {
constexpr auto kIdleWait = std::chrono::seconds(60);
constexpr auto kStoreErrorWait = std::chrono::seconds(5);
constexpr auto kAuthComplaintInterval = std::chrono::minutes(1);
}  // namespace

std::chrono::seconds backoff_delay(const Config& cfg, int attempts,
                                   std::optional<std::chrono::seconds> retry_after) {
    auto delay = cfg.minimal_backoff_time;
    for (int i = 1; i < attempts && delay < cfg.maximal_backoff_time; ++i) delay *= 2;
    delay = std::min(delay, cfg.maximal_backoff_time);
    if (retry_after && *retry_after > delay) delay = *retry_after;
    return delay;
}

void Sender::start() {
    for (const Job& job : outbox_.interrupted()) {
        // Twilio may or may not have this one; sending again could text twice.
        outbox_.mark_failed(job.id, "outcome unknown: interrupted while sending; not resent");
        log::warning(log::Qid{job.queue_id},
                     "to={}, status=failed (interrupted while sending; not resent)",
                     log::number(job.number));
    }
    thread_ = std::thread([this] { run(); });
}

void Sender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Sender::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_all();
}

void Sender::wait_for_work() {
    auto until = Clock::now() + kIdleWait;
    try {
        if (auto due = outbox_.next_due()) until = std::min(until, *due);
    } catch (const std::exception& e) {
        log::error("outbox: {}", e.what());
        until = Clock::now() + kStoreErrorWait;
    }
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, until, [this] { return stopping_ || woken_; });
    woken_ = false;
}

void Sender::run() {
    std::shared_ptr<const Config> client_cfg;
    std::unique_ptr<TwilioClient> client;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        auto cfg = config_.get();
        try {
            if (cfg != client_cfg) {
                client = std::make_unique<TwilioClient>(*cfg);
                client_cfg = cfg;
            }
            if (auto job = outbox_.claim_due()) {
                handle(*job, *client, *cfg);
                continue;
            }
        } catch (const std::exception& e) {
            log::error("sender: {}", e.what());
        }
        wait_for_work();
    }
}

void Sender::handle(const Job& job, TwilioClient& client, const Config& cfg) {
    log::Qid q{job.queue_id};
    std::string to = log::number(job.number);
    SendResult r = client.send(job.number, job.body);
    switch (r.kind) {
        case SendResult::Kind::Sent:
            outbox_.mark_sent(job.id, r.sid);
            log::info(q, "to={}, from=<{}>, status=sent, sid={}, segments={}, attempts={}", to,
                      printable(job.sender), printable(r.sid, 64), r.segments, job.attempts);
            return;
        case SendResult::Kind::Permanent:
            outbox_.mark_failed(job.id, r.error);
            log::info(q, "to={}, from=<{}>, status=failed ({})", to, printable(job.sender),
                      printable(r.error));
            return;
        case SendResult::Kind::Ambiguous:
            // Twilio may have created the message: never resend blindly.
            outbox_.mark_failed(job.id, "outcome unknown, not resent: " + r.error);
            log::warning(q, "to={}, from=<{}>, status=failed (outcome unknown, not resent: {})", to,
                         printable(job.sender), printable(r.error));
            return;
        case SendResult::Kind::AuthError:
            if (Clock::now() - last_auth_complaint_ > kAuthComplaintInterval) {
                last_auth_complaint_ = Clock::now();
                log::error(
                    "Twilio rejected the credentials ({}); check twilio_account_sid and the "
                    "secret file; jobs stay queued",
                    printable(r.error));
            }
            [[fallthrough]];
        case SendResult::Kind::Retry: {
            auto delay = backoff_delay(cfg, job.attempts, r.retry_after);
            outbox_.mark_deferred(job.id, Clock::now() + delay, r.error);
            log::info(q, "to={}, from=<{}>, status=deferred, attempts={}, delay={}s ({})", to,
                      printable(job.sender), job.attempts, delay.count(), printable(r.error));
            return;
        }
    }
}

}  // namespace smsm
