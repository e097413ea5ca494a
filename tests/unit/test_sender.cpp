// The outbox's batch claim, and the sender driven through its transport seam (a fake
// transport and lookup, no network): sends, lookups before a resend, no create for a job
// found at Twilio.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "shared/base/clock.h"
#include "shared/config/config_holder.h"
#include "shared/delivery/sender.h"
#include "shared/session/end_of_message.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

std::vector<std::int64_t> enqueue(Outbox& outbox, const std::vector<std::string>& bodies) {
    std::vector<NewJob> jobs;
    for (const auto& b : bodies)
        jobs.push_back({"Q1", "alerts@example.com", "<+14155550123@sms.example.com>",
                        "+14155550123", b, "", Clock::now() + std::chrono::hours(1)});
    return outbox.enqueue(jobs, std::chrono::seconds(0)).ids;
}

// Answers every create at once, by the first word of its body as Twilio would (the state
// machine's inputs, without a network); anything else is sent, with a SID made from its
// tag. Records what was sent.
class FakeTransport final : public SmsTransport {
  public:
    explicit FakeTransport(std::vector<std::string>& sent) : sent_(sent) {}
    void submit(std::int64_t tag, const std::string&, const std::string& body) override {
        using K = SendResult::Kind;
        SendResult r{K::Sent, 201, 0, "SM" + std::to_string(tag), 1, "", std::nullopt};
        if (body.rfind("REFUSE", 0) == 0)  // a permanent refusal, as for a bad number
            r = {K::Permanent, 400, 21211, "", 0, "invalid To number", std::nullopt};
        else if (body.rfind("RETRY", 0) == 0)
            r = {K::Retry, 429, 20429, "", 0, "Too Many Requests", std::chrono::seconds(120)};
        else if (body.rfind("AMBIGUOUS", 0) == 0)
            r = {K::Ambiguous, 503, 0, "", 0, "Service Unavailable", std::nullopt};
        else if (body.rfind("AUTH", 0) == 0)
            r = {K::AuthError, 401, 20003, "", 0, "Authenticate", std::nullopt};
        else if (body.rfind("PERMANENT", 0) == 0)
            r = {K::Permanent, 400, 21610, "", 0, "unsubscribed recipient", std::nullopt};
        std::lock_guard lock(mutex_);
        sent_.push_back(body);
        pending_.push_back({tag, r});
        cv_.notify_all();
    }
    std::size_t in_flight() const override {
        std::lock_guard lock(mutex_);
        return pending_.size();
    }
    std::vector<SmsDone> run(std::chrono::steady_clock::time_point until) override {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, until, [&] { return woken_ || !pending_.empty(); });
        woken_ = false;
        return std::exchange(pending_, {});
    }
    void wake() override {
        std::lock_guard lock(mutex_);
        woken_ = true;
        cv_.notify_all();
    }

  private:
    std::vector<std::string>& sent_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<SmsDone> pending_;
    bool woken_ = false;
};

// "found ..." bodies are at Twilio already; nothing else is.
class FakeLookup final : public MessageLookup {
  public:
    LookupResult find_message(const std::string&, const std::string& body,
                              std::chrono::system_clock::time_point,
                              const std::set<std::string>&) override {
        if (body.rfind("found", 0) == 0) return {LookupResult::Kind::Found, "SMfound", "", ""};
        return {LookupResult::Kind::NotFound, "", "", ""};
    }
};

}  // namespace

TEST_CASE("claim_due takes up to N jobs to send and M to look up, in one go, in due order") {
    test::TempDir d;
    Outbox outbox(d.path());
    auto ids = enqueue(outbox, {"a", "b", "c", "d", "e"});
    REQUIRE(ids.size() == 5);
    auto past = Clock::now() - std::chrono::seconds(5);
    outbox.mark_deferred(ids[3], past, "outcome unknown", true);
    outbox.mark_deferred(ids[4], past - std::chrono::seconds(1), "outcome unknown", true);

    auto jobs = outbox.claim_due(2, 1);
    REQUIRE(jobs.size() == 3);
    CHECK(jobs[0].id == ids[4]);  // due first
    CHECK(jobs[0].check_first);
    CHECK(jobs[1].id == ids[0]);
    CHECK(jobs[2].id == ids[1]);
    for (const auto& j : jobs) {
        CHECK(j.state == JobState::Sending);
        CHECK(j.attempts == 1);
        CHECK(outbox.get(j.id)->state == JobState::Sending);
    }
    CHECK(outbox.next_due(true));   // ids[3] waits for a lookup
    CHECK(outbox.next_due(false));  // ids[2]
    CHECK(outbox.claim_due(0, 0).empty());
    auto rest = outbox.claim_due(10, 10);
    CHECK(rest.size() == 2);
    CHECK_FALSE(outbox.next_due());
    CHECK(outbox.claim_due(10, 10).empty());
}

TEST_CASE("the sender sends through its transport and looks up uncertain jobs first") {
    test::TempDir d;
    // Not found twice, lookup_recheck_time apart, before "lost before" is sent again.
    ConfigHolder holder(test::load_test_config(
        d, "state_directory = " + d.path() + "\nlookup_recheck_time = 1s\n"));
    Outbox outbox(d.path());
    auto ids = enqueue(outbox, {"plain", "found before", "lost before"});
    outbox.mark_deferred(ids[1], Clock::now(), "outcome unknown", true);
    outbox.mark_deferred(ids[2], Clock::now(), "outcome unknown", true);

    std::vector<std::string> sent;  // read once the sender has stopped
    TwilioFactory fake{[&](const Config&) -> std::unique_ptr<SmsTransport> {
                           return std::make_unique<FakeTransport>(sent);
                       },
                       [](const Config&) -> std::unique_ptr<MessageLookup> {
                           return std::make_unique<FakeLookup>();
                       }};
    Sender sender(holder, outbox, fake);
    sender.start();
    sender.wake();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto all_sent = [&] {
        for (auto id : ids)
            if (outbox.get(id)->state != JobState::Sent) return false;
        return true;
    };
    while (!all_sent() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sender.stop();

    REQUIRE(all_sent());
    CHECK(outbox.get(ids[0])->sid == "SM" + std::to_string(ids[0]));
    CHECK(outbox.get(ids[1])->sid == "SMfound");  // found at Twilio: no second create
    CHECK(outbox.get(ids[2])->sid == "SM" + std::to_string(ids[2]));
    CHECK(std::multiset<std::string>(sent.begin(), sent.end()) ==
          std::multiset<std::string>{"plain", "lost before"});
}

TEST_CASE("a stop right after start is not lost while the transport is being made") {
    test::TempDir d;
    ConfigHolder holder(test::load_test_config(d, "state_directory = " + d.path() + "\n"));
    Outbox outbox(d.path());
    std::vector<std::string> sent;
    // A slow factory widens the window in which no transport exists to be woken.
    TwilioFactory slow{[&](const Config&) -> std::unique_ptr<SmsTransport> {
                           std::this_thread::sleep_for(std::chrono::milliseconds(200));
                           return std::make_unique<FakeTransport>(sent);
                       },
                       [](const Config&) -> std::unique_ptr<MessageLookup> {
                           return std::make_unique<FakeLookup>();
                       }};
    Sender sender(holder, outbox, slow);
    sender.start();
    auto t0 = std::chrono::steady_clock::now();
    sender.stop();
    // Without the fix the dispatcher sleeps in its transport until kIdleWait (15 s).
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

namespace {
TwilioFactory fake_twilio(std::vector<std::string>& sent) {
    return {[&](const Config&) -> std::unique_ptr<SmsTransport> {
                return std::make_unique<FakeTransport>(sent);
            },
            [](const Config&) -> std::unique_ptr<MessageLookup> {
                return std::make_unique<FakeLookup>();
            }};
}
}  // namespace

TEST_CASE("eom_wait: a first answer that comes before the wait begins is not missed") {
    test::TempDir d;
    auto cfg = test::load_test_config(
        d, "state_directory = " + d.path() + "\neom_wait = 30s\nstorm_window = 0\n");
    ConfigHolder holder(cfg);
    Outbox outbox(d.path());
    std::vector<std::string> sent;
    Sender sender(holder, outbox, fake_twilio(sent));
    sender.start();

    // end_message watches inside the commit: whenever the answer comes, it is the reply.
    for (int round = 0; round < 20; ++round) {
        Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<alerts@example.com>", ""});
        REQUIRE(m.rcpt("<4155550123@sms.example.com>", "Q").action == Reply::Action::Continue);
        m.header("Subject", "REFUSE " + std::to_string(round));
        auto t0 = std::chrono::steady_clock::now();
        EomOutcome out = end_message(m, "Q", outbox, &sender, [] {});
        CHECK(out.reply.str() ==
              "550 5.1.1 SMS refused by Twilio (error 21211): invalid To number");
        CHECK(out.remove.empty());
        CHECK(std::chrono::steady_clock::now() - t0 <
              std::chrono::seconds(20));  // not the deadline
    }
    sender.stop();
}

TEST_CASE("a job left sending by a failed state write is swept, looked up, then sent") {
    test::TempDir d;
    ConfigHolder holder(test::load_test_config(
        d, "state_directory = " + d.path() + "\nlookup_recheck_time = 1s\n"));
    Outbox outbox(d.path());
    std::vector<std::string> sent;
    Sender sender(holder, outbox, fake_twilio(sent));
    sender.set_sweep_interval(std::chrono::milliseconds(100));
    sender.start();
    // The idle dispatcher has looked once and found nothing; it sleeps until woken (15 s).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // Claimed by nobody the sender knows, two minutes ago: as if its `sent` write had failed.
    auto ids = enqueue(outbox, {"stranded"});
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((d.path() + "/outbox.db").c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    CHECK(sqlite3_exec(db,
                       "UPDATE jobs SET state = 'sending', attempts = 1, updated = updated - 120",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (outbox.get(ids[0])->state != JobState::Sent &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sender.stop();
    auto job = outbox.get(ids[0]);
    CHECK(job->state == JobState::Sent);
    // The claim that was lost, a lookup that missed, then the second lookup (lookup_recheck_time
    // later) and the send after it.
    CHECK(job->attempts == 3);
    CHECK(sent == std::vector<std::string>{"stranded"});
}

TEST_CASE("the sender's state machine: each Twilio answer and what the outbox records") {
    test::TempDir d;
    ConfigHolder holder(
        test::load_test_config(d, "state_directory = " + d.path() +
                                      "\nminimal_backoff_time = 10s\nmaximal_backoff_time = 5m\n"
                                      "destination_rate_delay = 0\n"));  // all to one number
    Outbox outbox(d.path());
    std::vector<std::string> sent;
    auto soon = Clock::now() + std::chrono::hours(1);
    std::vector<NewJob> jobs;
    for (const char* body : {"OK", "RETRY", "AMBIGUOUS", "AUTH", "PERMANENT"})
        jobs.push_back({"Q", "a@example.com", "<x@sms>", "+14155550123", body, "", soon});
    // A 503 whose next look would come after the end of its queue lifetime fails instead.
    jobs.push_back({"Q", "a@example.com", "<x@sms>", "+14155550123", "AMBIGUOUS late", "",
                    Clock::now() + std::chrono::seconds(3)});
    auto ids = outbox.enqueue(jobs, std::chrono::seconds(0)).ids;
    auto t0 = unix_now();

    Sender sender(holder, outbox, fake_twilio(sent));
    sender.start();
    sender.wake();
    auto settled = [&] {
        for (auto id : ids)
            if (outbox.get(id)->state == JobState::Queued ||
                outbox.get(id)->state == JobState::Sending)
                return false;
        return true;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!settled() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sender.stop();

    struct Want {
        JobState state;
        bool check_first;
        std::int64_t min_delay, max_delay;  // next attempt after the first, in seconds
        const char* error;                  // start of last_error
    };
    const Want want[] = {
        {JobState::Sent, false, 0, 0, ""},
        // 429 with Retry-After 120 s: longer than the backoff (10 s), so it wins; +20 % jitter
        {JobState::Deferred, false, 120, 146, "Too Many Requests"},
        // 5xx: Twilio may have it; looked up first, after minimal_backoff_time
        {JobState::Deferred, true, 10, 14, "outcome unknown: Service Unavailable"},
        // 401: the job stays; retried with backoff
        {JobState::Deferred, false, 10, 14, "Authenticate"},
        {JobState::Failed, false, 0, 0, "unsubscribed recipient"},
        {JobState::Failed, false, 0, 0, "queue lifetime exceeded: outcome unknown"},
    };
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto job = outbox.get(ids[i]);
        REQUIRE(job);
        CAPTURE(job->body);
        CHECK(job->state == want[i].state);
        CHECK(job->check_first == want[i].check_first);
        CHECK(job->last_error.rfind(want[i].error, 0) == 0);
        CHECK(job->attempts == 1);
        if (want[i].state == JobState::Deferred) {
            CHECK(job->next_attempt - t0 >= want[i].min_delay);
            CHECK(job->next_attempt - t0 <= want[i].max_delay);
        }
    }
    CHECK(outbox.get(ids[0])->sid == "SM" + std::to_string(ids[0]));
}
