// The sender workers: outbox -> Twilio -> outbox.
#include "shared/sender.h"

#include <algorithm>
#include <random>

#include "shared/log.h"
#include "shared/notice.h"
#include "shared/strings.h"

namespace smsm {

namespace {
constexpr auto kIdleWait = std::chrono::seconds(15);  // also how soon `queue retry` takes effect
constexpr auto kStoreErrorWait = std::chrono::seconds(5);
constexpr auto kAuthComplaintInterval = std::chrono::minutes(1);
constexpr auto kProgressInterval = std::chrono::seconds(10);
constexpr auto kPurgeInterval = std::chrono::hours(1);
constexpr auto kLookupSlack = std::chrono::minutes(2);  // clock skew between us and Twilio

// retry_time() with a random jitter.
Clock::time_point jittered_retry_time(std::chrono::seconds delay) {
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> u(0.0, 1.0);
    return retry_time(Clock::now(), delay, u(rng));
}
}  // namespace

Clock::time_point retry_time(Clock::time_point now, std::chrono::seconds delay, double u) {
    using std::chrono::seconds;
    // Rounding `now + delay` down to the second (as storing it did) made the first retry come
    // up to a second early: 9.3 s after a deferral with minimal_backoff_time = 10s.
    auto lo = std::chrono::ceil<seconds>((now + delay).time_since_epoch());
    auto hi = std::chrono::floor<seconds>((now + delay + delay / 5).time_since_epoch());
    if (hi < lo) hi = lo;
    auto span = static_cast<double>((hi - lo).count() + 1);
    auto pick = lo + seconds(static_cast<seconds::rep>(std::clamp(u, 0.0, 1.0) * span));
    return Clock::time_point(std::min(pick, hi));
}

std::chrono::seconds backoff_delay(const Config& cfg, int attempts,
                                   std::optional<std::chrono::seconds> retry_after) {
    auto delay = cfg.minimal_backoff_time;
    for (int i = 1; i < attempts && delay < cfg.maximal_backoff_time; ++i) delay *= 2;
    delay = std::min(delay, cfg.maximal_backoff_time);
    if (retry_after && *retry_after > delay) delay = *retry_after;
    return delay;
}

void Sender::start() {
    if (int n = outbox_.recover_interrupted(); n > 0)
        log::warning(
            "{} job(s) were being sent when the daemon stopped; Twilio will be asked before any "
            "resend",
            n);
    int n = config_.get()->send_concurrency;
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { worker(); });
}

void Sender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    answer_cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void Sender::wake() {
    {
        std::lock_guard lock(mutex_);
        ++generation_;
    }
    work_cv_.notify_all();
}

void Sender::wait_for_work(std::uint64_t seen) {
    auto until = Clock::now() + kIdleWait;
    try {
        bool purge = false;
        {
            std::lock_guard lock(mutex_);
            if (Clock::now() - last_purge_ > kPurgeInterval)
                purge = true, last_purge_ = Clock::now();
        }
        if (purge) {
            if (int n = outbox_.purge_finished(Clock::now() - config_.get()->outbox_retention);
                n > 0)
                log::info("outbox: removed {} finished job(s) older than outbox_retention", n);
        }
        if (auto due = outbox_.next_due()) until = std::min(until, *due);
    } catch (const std::exception& e) {
        log::error("outbox: {}", e.what());
        until = Clock::now() + kStoreErrorWait;
    }
    std::unique_lock lock(mutex_);
    work_cv_.wait_until(lock, until, [&] { return stopping_ || generation_ != seen; });
}

void Sender::worker() {
    std::shared_ptr<const Config> client_cfg;
    std::unique_ptr<TwilioClient> client;
    for (;;) {
        std::uint64_t seen;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            seen = generation_;
        }
        auto cfg = config_.get();
        try {
            if (cfg != client_cfg) {
                client = std::make_unique<TwilioClient>(*cfg);
                client_cfg = cfg;
            }
            if (auto job = outbox_.claim_due()) {
                run_job(*job, *client, *cfg);
                continue;
            }
        } catch (const std::exception& e) {
            log::error("sender: {}", e.what());
        }
        wait_for_work(seen);
    }
}

// handle() with a safety net: a job must not stay in `sending` because recording its outcome
// failed (the store was busy, say). It is deferred with check_first, as after a crash.
void Sender::run_job(const Job& job, TwilioClient& client, const Config& cfg) {
    try {
        handle(job, client, cfg);
    } catch (const std::exception& e) {
        log::error(log::Qid{job.queue_id}, "sender: {}; Twilio will be asked before any resend",
                   e.what());
        outbox_.mark_deferred(job.id, retry_time(Clock::now(), cfg.minimal_backoff_time, 0.0),
                              e.what(), true);
    }
}

void Sender::handle(const Job& job, TwilioClient& client, const Config& cfg) {
    if (Clock::now() > Clock::time_point(std::chrono::seconds(job.expires))) {
        fail(job, cfg, "queue lifetime exceeded: " + job.last_error, false);
        return;
    }
    if (job.check_first && !check_before_resend(job, client, cfg)) return;
    send(job, client, cfg);
}

// A job whose last request may have reached Twilio: true when it is to be sent (again).
bool Sender::check_before_resend(const Job& job, TwilioClient& client, const Config& cfg) {
    log::Qid q{job.queue_id};
    auto since = Clock::time_point(std::chrono::seconds(job.created)) - kLookupSlack;
    LookupResult found = client.find_message(job.number, job.body, since);
    switch (found.kind) {
        case LookupResult::Kind::Found:
            outbox_.mark_sent(job.id, found.sid);
            log::info(q,
                      "to={}, from=<{}>, status=sent, sid={} (found at Twilio after an uncertain "
                      "outcome)",
                      log::number(job.number), printable(job.sender), printable(found.sid, 64));
            answered(job, {});
            return false;
        case LookupResult::Kind::NotFound:
            log::info(q, "to={}, not found at Twilio after an uncertain outcome; sending",
                      log::number(job.number));
            return true;
        case LookupResult::Kind::Error:
            break;
    }
    std::string why = "cannot check Twilio's message list: " + found.error;
    switch (cfg.lookup_failure_action) {
        case LookupFailure::Resend:
            log::warning(q, "to={}, {}; resending as configured", log::number(job.number),
                         printable(why));
            return true;
        case LookupFailure::Fail:
            fail(job, cfg, why, false);
            return false;
        case LookupFailure::Defer:
            defer(job, cfg, backoff_delay(cfg, job.attempts, std::nullopt), why, true);
            return false;
    }
    return false;
}

void Sender::send(const Job& job, TwilioClient& client, const Config& cfg) {
    log::Qid q{job.queue_id};
    SendResult r = client.send(job.number, job.body);
    switch (r.kind) {
        case SendResult::Kind::Sent:
            outbox_.mark_sent(job.id, r.sid);
            log::info(q, "to={}, from=<{}>, status=sent, sid={}, segments={}, attempts={}",
                      log::number(job.number), printable(job.sender), printable(r.sid, 64),
                      r.segments, job.attempts);
            answered(job, {});
            return;
        case SendResult::Kind::Permanent:
            fail(job, cfg, r.error, true, r.code);
            return;
        case SendResult::Kind::Ambiguous:
            // Twilio may have created the message: look before any resend.
            defer(job, cfg, cfg.minimal_backoff_time, "outcome unknown: " + r.error, true);
            return;
        case SendResult::Kind::AuthError: {
            std::lock_guard lock(mutex_);
            if (Clock::now() - last_auth_complaint_ > kAuthComplaintInterval) {
                last_auth_complaint_ = Clock::now();
                log::error(
                    "Twilio rejected the credentials ({}); check twilio_account_sid and the secret "
                    "file; "
                    "jobs stay queued",
                    printable(r.error));
            }
            break;
        }
        case SendResult::Kind::Retry:
            break;
    }
    defer(job, cfg, backoff_delay(cfg, job.attempts, r.retry_after), r.error, false);
}

void Sender::defer(const Job& job, const Config& cfg, std::chrono::seconds delay,
                   const std::string& error, bool check_first) {
    auto next = jittered_retry_time(delay);
    if (next > Clock::time_point(std::chrono::seconds(job.expires))) {
        fail(job, cfg, "queue lifetime exceeded: " + error, false);
        return;
    }
    outbox_.mark_deferred(job.id, next, error, check_first);
    log::info(log::Qid{job.queue_id},
              "to={}, from=<{}>, status=deferred, attempts={}, delay={}s ({})",
              log::number(job.number), printable(job.sender), job.attempts,
              std::chrono::duration_cast<std::chrono::seconds>(next - Clock::now()).count(),
              printable(error));
    answered(job, {false, 0, error});
}

void Sender::fail(const Job& job, const Config& cfg, const std::string& error, bool refused,
                  int code) {
    outbox_.mark_failed(job.id, error);
    log::info(log::Qid{job.queue_id}, "to={}, from=<{}>, status=failed ({})",
              log::number(job.number), printable(job.sender), printable(error));
    bool watched;
    {
        std::lock_guard lock(mutex_);
        watched = watched_.count(job.id) != 0;
        if (watched) owed_notices_[job.id] = error;
    }
    answered(job, {refused, code, error});
    if (!watched) send_failure_notice(cfg, job, error);
}

void Sender::answered(const Job& job, FirstAnswer answer) {
    {
        std::lock_guard lock(mutex_);
        auto it = watched_.find(job.id);
        if (it == watched_.end() || it->second) return;
        it->second = std::move(answer);
    }
    answer_cv_.notify_all();
}

void Sender::watch(const std::vector<std::int64_t>& ids) {
    std::lock_guard lock(mutex_);
    for (auto id : ids) watched_.emplace(id, std::nullopt);
}

std::map<std::int64_t, FirstAnswer> Sender::wait_first_answers(
    const std::vector<std::int64_t>& ids, std::chrono::steady_clock::time_point deadline,
    const std::function<void()>& progress) {
    std::map<std::int64_t, FirstAnswer> answers;
    std::unique_lock lock(mutex_);
    auto all_answered = [&] {
        for (auto id : ids)
            if (auto it = watched_.find(id); it == watched_.end() || !it->second) return false;
        return true;
    };
    while (!stopping_ && !all_answered() && std::chrono::steady_clock::now() < deadline) {
        auto until = std::min(deadline, std::chrono::steady_clock::now() + kProgressInterval);
        if (!answer_cv_.wait_until(lock, until, [&] { return stopping_ || all_answered(); })) {
            lock.unlock();
            progress();
            lock.lock();
        }
    }
    for (auto id : ids)
        if (auto it = watched_.find(id); it != watched_.end() && it->second)
            answers[id] = *it->second;
    return answers;
}

void Sender::release(const std::vector<std::int64_t>& ids, bool notify) {
    std::map<std::int64_t, std::string> owed;
    {
        std::lock_guard lock(mutex_);
        for (auto id : ids) {
            watched_.erase(id);
            if (auto it = owed_notices_.find(id); it != owed_notices_.end()) {
                owed.insert(*it);
                owed_notices_.erase(it);
            }
        }
    }
    if (!notify || owed.empty()) return;
    auto cfg = config_.get();
    for (const auto& [id, reason] : owed)
        if (auto job = outbox_.get(id)) send_failure_notice(*cfg, *job, reason);
}

}  // namespace smsm
