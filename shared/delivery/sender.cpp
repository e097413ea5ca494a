// The sender: the dispatcher thread (outbox -> Twilio -> outbox), the lookup thread and the
// notice thread.
#include "shared/delivery/sender.h"

#include <set>

#include <algorithm>
#include <random>

#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/delivery/notice.h"
#include "shared/delivery/pacer.h"
#include "shared/delivery/spacing.h"
#include "shared/metrics/metrics.h"
#include "shared/text/storm_text.h"
#include "shared/twilio/message_status.h"

namespace smsm {

namespace {
constexpr auto kIdleWait = std::chrono::seconds(15);  // also how soon `queue retry` takes effect
constexpr auto kStoreErrorWait = std::chrono::seconds(5);
constexpr auto kAuthComplaintInterval = std::chrono::minutes(1);
constexpr auto kProgressInterval = std::chrono::seconds(10);
constexpr auto kPurgeInterval = std::chrono::hours(1);
constexpr auto kLookupSlack = std::chrono::minutes(2);  // clock skew between us and Twilio
// twilio_send_rate: jobs are claimed when they may start within this time, not before.
constexpr auto kClaimAhead = std::chrono::milliseconds(250);
constexpr std::size_t kLookupsOpen = 4;     // claimed for a lookup at once (one is looked up)
constexpr std::size_t kMaxNotices = 10000;  // failure notices waiting for sendmail

// When a job sent now has its delivery status fetched first (shared/status/status_poller.h);
// 0: never.
std::int64_t first_poll(const Config& cfg) {
    if (!cfg.status_polling) return 0;
    auto now = unix_now();
    return next_poll_time(cfg, 0, now, now).value_or(0);
}

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

// The dispatcher thread's state.
struct Sender::Dispatch {
    // Due jobs of one kind (to send, or to look up first): whether the last claim found none
    // left, and when the next one falls due then.
    struct Due {
        bool exhausted = false;
        Clock::time_point next{};
    };
    std::shared_ptr<const Config> cfg;  // what the transport was made for
    std::unique_ptr<SmsTransport> transport;
    std::map<std::int64_t, Job> in_flight;
    std::deque<Job> ready;   // claimed to send, next when there is room
    std::uint64_t seen = 0;  // generation_ at the last claim
    Due sends, lookups;
    Clock::time_point last_purge{};
    Clock::time_point last_sweep{};
    Pacer pacer;  // twilio_send_rate, of the current snapshot (not the transport's)
    // destination_rate_delay: a job whose number had a start less than that ago waits in
    // `ready` (or resends_) for its turn, without holding up jobs to other numbers.
    DestinationSpacing spacing{std::chrono::seconds(1)};
    std::size_t send_room() const {
        auto max = static_cast<std::size_t>(cfg->send_concurrency);
        return max - std::min(max, in_flight.size());
    }
    // Claimed beyond the room there is, so that one transaction (one fsync) serves several
    // requests: a quarter of send_concurrency. A crash leaves them `sending`, and so looked
    // up before they are sent, like those in flight.
    std::size_t prefetch() const {
        return static_cast<std::size_t>(std::max(1, cfg->send_concurrency / 4));
    }
    // A create request may start now: there is room, and the pacer lets it.
    bool may_send() const {
        return send_room() > 0 && pacer.may_start(std::chrono::steady_clock::now());
    }
    // Jobs to claim: as many as there is room for and the prefetch. Paced, no more than may
    // start within kClaimAhead (the outbox, not memory, is where jobs wait their turn), and
    // only once half of those claimed before have started: one claim (one fsync) per half
    // of kClaimAhead at most, rather than one per start.
    std::size_t to_claim() const {
        auto n = send_room() + prefetch();
        if (!pacer.paced()) return n - std::min(n, ready.size());
        n = std::min(n, pacer.starts_within(std::chrono::steady_clock::now(), kClaimAhead));
        return ready.size() * 2 > n ? 0 : n - ready.size();
    }
};

void Sender::start() {
    if (int n = outbox_.recover_interrupted(); n > 0)
        log::warning(
            "{} job(s) were being sent when the daemon stopped; Twilio will be asked before any "
            "resend",
            n);
    dispatcher_ = std::thread([this] { dispatch(); });
    lookup_thread_ = std::thread([this] { look_up(); });
    notice_thread_ = std::thread([this] { mail_notices(); });
}

void Sender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_locked();
    }
    answer_cv_.notify_all();
    lookup_cv_.notify_all();
    if (dispatcher_.joinable()) dispatcher_.join();
    if (lookup_thread_.joinable()) lookup_thread_.join();
    // Claimed and not sent: due again now, looked up (again) first.
    std::deque<Job> left;
    {
        std::lock_guard lock(mutex_);
        left.swap(lookups_);
        for (auto& job : resends_) left.push_back(std::move(job));
        resends_.clear();
        lookups_open_ = 0;
    }
    for (const auto& job : left) {
        try {
            outbox_.mark_deferred(job.id, Clock::now(), job.last_error, true);
        } catch (const std::exception& e) {
            log::error(log::Qid{job.queue_id}, "sender: {}", e.what());
        }
    }
    {
        std::lock_guard lock(mutex_);
        notices_stopping_ = true;
    }
    notice_cv_.notify_all();
    if (notice_thread_.joinable()) notice_thread_.join();
}

void Sender::wake() {
    std::lock_guard lock(mutex_);
    if (!sends_full_) {
        wake_locked();
        return;
    }
    // Every create in flight: new jobs cannot start before one ends, and the dispatcher looks
    // at the outbox then (it sees the new generation). Waking it now, once per message of a
    // burst, would only make libcurl poll every connection for nothing.
    ++generation_;
}

void Sender::wake_locked() {
    ++generation_;
    if (transport_) transport_->wake();
}

void Sender::dispatch() {
    Dispatch d;
    for (;;) {
        try {
            bool ready = refresh_transport(d);
            // Read after refresh_transport() published the transport: a stop() before this
            // point is seen here, and one after it wakes the transport's poll. (Read before,
            // a stop() that came while no transport existed was lost until kIdleWait.)
            bool stopping;
            {
                std::lock_guard lock(mutex_);
                stopping = stopping_;
            }
            if (stopping && d.in_flight.empty()) break;
            if (ready && !stopping) take_due(d);
            for (auto& done : d.transport->run(run_until(d, ready && !stopping))) {
                auto it = d.in_flight.find(done.tag);
                if (it == d.in_flight.end()) continue;
                Job job = std::move(it->second);
                d.in_flight.erase(it);
                finish_job(job, done.result, *d.cfg);  // its SID is in the outbox, then:
                std::lock_guard lock(mutex_);
                if (auto c = creating_.find(creating_key(job)); c != creating_.end())
                    creating_.erase(c);
            }
        } catch (const std::exception& e) {
            log::error("sender: {}", e.what());
            // Pause (the store may be busy, or libcurl out of memory), yet stop when told.
            std::unique_lock lock(mutex_);
            auto seen = generation_;
            answer_cv_.wait_for(lock, kStoreErrorWait,
                                [&] { return stopping_ || generation_ != seen; });
        }
    }
    {
        std::lock_guard lock(mutex_);
        transport_ = nullptr;
    }
    for (const auto& job : d.ready) {  // claimed, never sent: due again as they were
        try {
            outbox_.mark_deferred(job.id, Clock::now(), job.last_error, false);
        } catch (const std::exception& e) {
            log::error(log::Qid{job.queue_id}, "sender: {}", e.what());
        }
    }
}

// How long the transport may run before the dispatcher looks at the outbox again: until a
// job falls due that there is room for, or kIdleWait (`queue retry` from another process).
// Paced, a job claimed (or back from a lookup) waits for the pacer's next start, and no more
// are claimed until kClaimAhead before it. Requests that end, wake() and lookups that are
// done return earlier.
std::chrono::steady_clock::time_point Sender::run_until(const Dispatch& d, bool may_start) {
    auto now = Clock::now();
    auto steady_now = std::chrono::steady_clock::now();
    auto at = [&](Clock::time_point t) {
        return steady_now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::max(t - now, Clock::duration::zero()));
    };
    auto until = std::min(at(now + kIdleWait), at(d.last_sweep + sweep_interval_));
    if (may_start) {
        constexpr auto kNever = std::chrono::steady_clock::time_point::max();
        bool lookup_room, held = !d.ready.empty();
        // When the first job held in `ready` or resends_ may start by destination_rate_delay.
        auto held_at = kNever;
        for (const auto& job : d.ready)
            held_at = std::min(held_at, d.spacing.next_start(job.number));
        {
            std::lock_guard lock(mutex_);
            lookup_room = lookups_open_ < kLookupsOpen;
            held = held || !resends_.empty();
            for (const auto& job : resends_)
                held_at = std::min(held_at, d.spacing.next_start(job.number));
        }
        if (d.send_room() > 0) {
            // Claiming more, when more are wanted; paced, no sooner than kClaimAhead before
            // the pacer's next start.
            auto claim = at(d.sends.exhausted ? d.sends.next : now);
            if (d.pacer.paced()) claim = std::max(claim, d.pacer.next_start() - kClaimAhead);
            if (held && d.to_claim() == 0) claim = kNever;
            // Starting a held job: its number's turn, and paced, the pacer's next start.
            auto start = held_at;
            if (held && d.pacer.paced()) start = std::max(start, d.pacer.next_start());
            until = std::min({until, claim, start});
        }
        if (lookup_room) until = std::min(until, at(d.lookups.exhausted ? d.lookups.next : now));
    }
    return until;
}

// A new transport after a reload that changed the configuration, once the old one has
// nothing in flight (new credentials, URL or CA file apply to new requests only). False
// while requests must wait for it. A new twilio_send_rate applies at once.
bool Sender::refresh_transport(Dispatch& d) {
    auto cfg = config_.get();
    d.pacer.set_rate(cfg->twilio_send_rate);
    d.spacing.set_gap(cfg->destination_rate_delay);
    if (cfg == d.cfg && d.transport) return true;
    if (!d.in_flight.empty()) return false;
    auto fresh = twilio_.transport(*cfg);
    {
        std::lock_guard lock(mutex_);
        transport_ = fresh.get();
    }
    d.transport = std::move(fresh);
    d.cfg = cfg;
    return true;
}

// Starts what may start (room in flight, and the pacer's leave): jobs back from a lookup
// first, then jobs claimed before, then due jobs from the outbox, claimed in one
// transaction: as many as Dispatch::to_claim() says, and up to kLookupsOpen for the lookup
// thread (lookups are not paced).
void Sender::take_due(Dispatch& d) {
    std::vector<Job> back;
    std::size_t lookup_room;
    std::uint64_t generation;
    Clock::time_point deferred[2];
    {
        std::lock_guard lock(mutex_);
        // Nothing waited to start until now: the pacer makes up for none of that time (no
        // burst when new jobs come after a quiet spell).
        if (d.ready.empty() && resends_.empty() && d.sends.exhausted)
            d.pacer.idle(std::chrono::steady_clock::now());
        std::size_t take = d.pacer.paced() ? (d.may_send() ? 1 : 0) : d.send_room();
        auto steady_now = std::chrono::steady_clock::now();
        for (auto it = resends_.begin(); it != resends_.end() && back.size() < take;) {
            if (d.spacing.may_start(it->number, steady_now)) {
                back.push_back(std::move(*it));
                it = resends_.erase(it);
            } else {
                ++it;
            }
        }
        lookup_room = kLookupsOpen - std::min(kLookupsOpen, lookups_open_);
        generation = generation_;
        for (int i = 0; i < 2; ++i)
            deferred[i] = std::exchange(deferred_[i], Clock::time_point::max());
    }
    for (const auto& job : back) start_job(d, job, true);
    // Each job once: one whose number must wait goes to the back (in order with the others
    // to its number), so that it does not hold up jobs to other numbers.
    for (std::size_t n = d.ready.size(); n > 0 && d.may_send(); --n) {
        Job job = std::move(d.ready.front());
        d.ready.pop_front();
        start_job(d, job, false);
    }

    auto now = Clock::now();
    if (now - d.last_sweep >= sweep_interval_) {
        d.last_sweep = now;
        if (sweep_stranded(d) > 0) d.lookups.exhausted = false;  // due now, to look up
    }
    if (Clock::now() - d.last_purge > kPurgeInterval) {
        d.last_purge = now;
        if (int n = outbox_.purge_finished(now - d.cfg->outbox_retention); n > 0)
            log::info("outbox: removed {} finished job(s) older than outbox_retention", n);
    }
    if (generation != d.seen) {  // new jobs (never check_first): look again
        d.seen = generation;
        d.sends.exhausted = false;
    }
    d.sends.next = std::min(d.sends.next, deferred[0]);  // deferred since the last claim
    d.lookups.next = std::min(d.lookups.next, deferred[1]);
    for (auto* due : {&d.sends, &d.lookups})
        if (due->exhausted && now >= due->next) due->exhausted = false;
    std::size_t room = d.send_room();
    std::size_t sends = d.sends.exhausted || room == 0 ? 0 : d.to_claim();
    std::size_t lookups = d.lookups.exhausted ? 0 : lookup_room;
    if (sends + lookups == 0) {
        note_room(d, generation);
        note_creates_waiting(d);
        return;
    }
    std::vector<Job> jobs;
    try {
        if (sends > 0) close_storms();  // summaries due now become jobs to claim
        jobs = outbox_.claim_due(sends, lookups);
    } catch (...) {
        // Look again a little later, not at once and again.
        d.sends = d.lookups = {true, now + kStoreErrorWait};
        throw;
    }
    std::size_t got_sends = 0, got_lookups = 0;
    for (auto& job : jobs) {
        ++(job.check_first ? got_lookups : got_sends);
        if (job.check_first || d.may_send())
            start_job(d, job, false);
        else
            d.ready.push_back(std::move(job));
    }
    // Fewer than asked for: none of that kind is due now; when is the next?
    auto until_next = [&](Dispatch::Due& due, bool check_first) {
        auto next = outbox_.next_due(check_first);
        due = {true, next && *next > now ? std::min(*next, now + kIdleWait) : now + kIdleWait};
    };
    if (sends > 0 && got_sends < sends) until_next(d.sends, false);
    if (lookups > 0 && got_lookups < lookups) until_next(d.lookups, true);
    note_room(d, generation);
    note_creates_waiting(d);
}

// Tells wake() whether every create is in flight (sends_full_). New jobs that came while it
// said so, since `generation` was read, woke nobody: the next claim looks for them at once.
void Sender::note_room(Dispatch& d, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    sends_full_ = d.send_room() == 0;
    if (!sends_full_ && generation_ != generation) d.sends.exhausted = false;
}

// For the status poller, which waits while creates wait (shared/status/status_poller.h).
void Sender::note_creates_waiting(const Dispatch& d) {
    creates_waiting_.store(!d.ready.empty() || d.send_room() == 0 || !d.sends.exhausted,
                           std::memory_order_relaxed);
}

// Jobs the outbox says are being sent but that no part of the sender holds: a state write
// that failed (the disk full, the database locked) left them `sending`. They are looked up at
// Twilio before any resend, as after a crash; without this sweep only a restart found them.
int Sender::sweep_stranded(const Dispatch& d) {
    std::set<std::int64_t> held;
    for (const auto& [id, job] : d.in_flight) held.insert(id);
    for (const auto& job : d.ready) held.insert(job.id);
    {
        std::lock_guard lock(mutex_);
        for (const auto& job : lookups_) held.insert(job.id);
        for (const auto& job : resends_) held.insert(job.id);
        if (looking_up_ != 0) held.insert(looking_up_);
    }
    try {
        int n = outbox_.recover_stranded(held);
        if (n > 0)
            log::warning(
                "outbox: {} job(s) were left sending after a failed state write; they "
                "are looked up at Twilio before any resend",
                n);
        return n;
    } catch (const std::exception& e) {
        log::error("outbox: cannot sweep jobs left sending: {}", e.what());
        return 0;
    }
}

// Storm windows that closed with alerts held back: their summary SMS are queued now.
void Sender::close_storms() {
    std::map<std::string, std::int64_t> held;
    if (storm_held_) {
        auto ids = outbox_.closed_shared_storms();
        if (!ids.empty()) held = storm_held_(ids);
    }
    for (const auto& s : outbox_.close_storms(storm_summary, held)) {
        log::info(log::Qid{s.queue_id},
                  "to={}, from=<{}>, status=queued, job={} (storm summary: {} held back after "
                  "job {})",
                  log::number(s.number), printable(s.sender), s.job, s.held, s.first_job);
        metrics::count_sms(metrics::SmsStatus::Queued);
    }
}

// A claimed job: expired, to be looked up first, or sent now.
void Sender::start_job(Dispatch& d, const Job& job, bool looked_up) {
    const Config& cfg = *d.cfg;
    try {
        if (expired(job, cfg)) return;
        if (job.check_first && !looked_up) {
            {
                std::lock_guard lock(mutex_);
                ++lookups_open_;
                lookups_.push_back(job);
            }
            lookup_cv_.notify_one();
            return;
        }
        auto now = std::chrono::steady_clock::now();
        if (!d.spacing.may_start(job.number, now)) {  // destination_rate_delay: wait
            if (looked_up) {
                std::lock_guard lock(mutex_);
                resends_.push_back(job);
            } else {
                d.ready.push_back(job);
            }
            return;
        }
        d.transport->submit(job.id, job.number, job.body);
        d.pacer.started(now);
        d.spacing.started(job.number, now);
        d.in_flight.emplace(job.id, job);
        std::lock_guard lock(mutex_);
        creating_.insert(creating_key(job));
    } catch (const std::exception& e) {
        recover(job, cfg, e);
    }
}

// A job that cannot go on for an internal reason (the store is busy, say) must not stay in
// `sending`: it is deferred with check_first, as after a crash.
void Sender::recover(const Job& job, const Config& cfg, const std::exception& e) {
    log::error(log::Qid{job.queue_id}, "sender: {}; Twilio will be asked before any resend",
               e.what());
    try {
        auto next = retry_time(Clock::now(), cfg.minimal_backoff_time, 0.0);
        outbox_.mark_deferred(job.id, next, e.what(), true);
        deferred_until(next, true);
    } catch (const std::exception& again) {
        log::error(log::Qid{job.queue_id}, "sender: {}", again.what());
    }
}

// Tells the dispatcher, which may think nothing is due for a while, about a deferral.
void Sender::deferred_until(Clock::time_point next, bool check_first) {
    std::lock_guard lock(mutex_);
    auto& earliest = deferred_[check_first ? 1 : 0];
    earliest = std::min(earliest, next);
}

void Sender::finish_job(const Job& job, const SendResult& r, const Config& cfg) {
    try {
        record(job, r, cfg);
    } catch (const std::exception& e) {
        recover(job, cfg, e);
    }
}

// The lookup thread: jobs of uncertain outcome, one at a time, with a blocking client.
void Sender::look_up() {
    std::shared_ptr<const Config> made_for;
    std::unique_ptr<MessageLookup> lookup;
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            lookup_cv_.wait(lock, [&] { return stopping_ || !lookups_.empty(); });
            if (stopping_) return;
            job = std::move(lookups_.front());
            lookups_.pop_front();
            looking_up_ = job.id;
        }
        auto cfg = config_.get();
        bool resend = false;
        try {
            if (cfg != made_for) {
                lookup = twilio_.lookup(*cfg);
                made_for = cfg;
            }
            resend = check_before_resend(job, *lookup, *cfg);
        } catch (const std::exception& e) {
            recover(job, *cfg, e);
        }
        std::lock_guard lock(mutex_);
        --lookups_open_;
        looking_up_ = 0;
        if (resend) resends_.push_back(std::move(job));
        wake_locked();
    }
}

// The notice thread: failure notices, mailed one after another through sendmail_command.
void Sender::mail_notices() {
    for (;;) {
        Notice notice;
        {
            std::unique_lock lock(mutex_);
            notice_cv_.wait(lock, [&] { return notices_stopping_ || !notices_.empty(); });
            if (notices_.empty()) return;
            notice = std::move(notices_.front());
            notices_.pop_front();
        }
        try {
            auto cfg = notice.cfg ? notice.cfg : config_.get();
            if (notice.id == 0)
                send_failure_notice(*cfg, notice.job, notice.reason);
            else if (auto job = outbox_.get(notice.id))
                send_failure_notice(*cfg, *job, notice.reason);
        } catch (const std::exception& e) {
            log::error(log::Qid{notice.job.queue_id}, "failure notice: {}", e.what());
        }
    }
}

void Sender::notify_later(std::int64_t id, const std::string& reason) {
    queue_notice({id, reason, {}, nullptr});
}

void Sender::mail_notice(std::shared_ptr<const Config> cfg, Job job, std::string reason) {
    queue_notice({0, std::move(reason), std::move(job), std::move(cfg)});
}

void Sender::queue_notice(Notice notice) {
    {
        std::lock_guard lock(mutex_);
        if (notices_.size() >= kMaxNotices) {
            log::warning(log::Qid{notice.job.queue_id},
                         "failure notice {}not mailed: {} notices are waiting",
                         notice.id ? fmt::format("for job {} ", notice.id) : "", notices_.size());
            return;
        }
        notices_.push_back(std::move(notice));
    }
    notice_cv_.notify_one();
}

bool Sender::expired(const Job& job, const Config& cfg) {
    if (Clock::now() <= Clock::time_point(std::chrono::seconds(job.expires))) return false;
    fail(job, cfg, "queue lifetime exceeded: " + job.last_error, false);
    return true;
}

std::string Sender::creating_key(const Job& job) {
    return job.number + '\n' + job.body;
}

bool Sender::creating(const Job& job) {
    std::lock_guard lock(mutex_);
    return creating_.count(creating_key(job)) != 0;
}

// A job whose last request may have reached Twilio: true when it is to be sent (again).
//  - A message the outbox gave another job (its SID), or one a create in flight of the same
//    text to that number may have made, is never this job's: two identical alerts, the
//    second uncertain, are two SMS.
//  - Not found: sent again only when a second lookup, lookup_recheck_time after the first
//    miss, does not find it either (the list lags by minutes).
//  - A lookup Twilio throttled or could not answer (429, 5xx, network): looked up again
//    later, whatever lookup_failure_action says; that decides only when Twilio refuses the
//    list (401, 403: a key without the permission) or it cannot be read.
bool Sender::check_before_resend(const Job& job, MessageLookup& lookup, const Config& cfg) {
    log::Qid q{job.queue_id};
    auto since = Clock::time_point(std::chrono::seconds(job.created)) - kLookupSlack;
    if (creating(job)) {
        defer(job, cfg, cfg.minimal_backoff_time,
              "outcome unknown: the same text to this number is being sent; looking again later",
              true);
        return false;
    }
    LookupResult found = lookup.find_message(job.number, job.body, since,
                                             outbox_.sids_of_other_jobs(job.id, job.number));
    switch (found.kind) {
        case LookupResult::Kind::Found:
            // Did another job come to own it while we looked?
            if (creating(job) || outbox_.sids_of_other_jobs(job.id, job.number).count(found.sid)) {
                defer(job, cfg, cfg.minimal_backoff_time,
                      "outcome unknown: the message found may be another job's; looking again "
                      "later",
                      true);
                return false;
            }
            outbox_.mark_sent(job.id, found.sid, first_poll(cfg));
            outbox_.forget_lookup_misses(job.id);
            log::info(q,
                      "to={}, from=<{}>, status=sent, sid={} (found at Twilio after an uncertain "
                      "outcome)",
                      log::number(job.number), printable(job.sender), printable(found.sid, 64));
            metrics::count_sms(metrics::SmsStatus::Sent);
            answered(job, {});
            return false;
        case LookupResult::Kind::NotFound: {
            auto now = Clock::now();
            auto first = outbox_.note_lookup_miss(job.id, now);
            if (now - first < cfg.lookup_recheck_time) {
                auto wait =
                    std::chrono::ceil<std::chrono::seconds>(first + cfg.lookup_recheck_time - now);
                log::info(q,
                          "to={}, not found at Twilio after an uncertain outcome; looking again "
                          "in {}s before sending (lookup_recheck_time)",
                          log::number(job.number), wait.count());
                defer(job, cfg, wait, "outcome unknown: not at Twilio yet; looking again", true);
                return false;
            }
            outbox_.forget_lookup_misses(job.id);
            log::info(q,
                      "to={}, not found at Twilio after an uncertain outcome, in lookups {}s "
                      "apart; sending",
                      log::number(job.number),
                      std::chrono::duration_cast<std::chrono::seconds>(now - first).count());
            return true;
        }
        case LookupResult::Kind::Unavailable:
            defer(job, cfg, backoff_delay(cfg, job.attempts, std::nullopt),
                  "outcome unknown; cannot read Twilio's message list now: " + found.error, true);
            return false;
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

// How a create request ended, into the outbox.
void Sender::record(const Job& job, const SendResult& r, const Config& cfg) {
    log::Qid q{job.queue_id};
    switch (r.kind) {
        case SendResult::Kind::Sent:
            outbox_.mark_sent(job.id, r.sid, first_poll(cfg));
            log::info(q, "to={}, from=<{}>, status=sent, sid={}, segments={}, attempts={}",
                      log::number(job.number), printable(job.sender), printable(r.sid, 64),
                      r.segments, job.attempts);
            metrics::count_sms(metrics::SmsStatus::Sent);
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
    deferred_until(next, check_first);
    log::info(log::Qid{job.queue_id},
              "to={}, from=<{}>, status=deferred, attempts={}, delay={}s ({})",
              log::number(job.number), printable(job.sender), job.attempts,
              std::chrono::duration_cast<std::chrono::seconds>(next - Clock::now()).count(),
              printable(error));
    metrics::count_sms(metrics::SmsStatus::Deferred);
    answered(job, {false, 0, error});
}

void Sender::fail(const Job& job, const Config& cfg, const std::string& error, bool refused,
                  int code) {
    outbox_.mark_failed(job.id, error);
    log::info(log::Qid{job.queue_id}, "to={}, from=<{}>, status=failed ({})",
              log::number(job.number), printable(job.sender), printable(error));
    metrics::count_sms(metrics::SmsStatus::Failed);
    bool watched;
    {
        std::lock_guard lock(mutex_);
        watched = watched_.count(job.id) != 0;
        if (watched) owed_notices_[job.id] = error;
    }
    answered(job, {refused, code, error});
    if (!watched && !notice_recipient(cfg, job).empty()) notify_later(job.id, error);
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
    if (!notify) return;
    for (const auto& [id, reason] : owed) notify_later(id, reason);
}

}  // namespace smsm
