// Twilio as it really behaves (issue 11): the lookup's walk through the message list (null
// date_sent first or last, pages, SIDs of other jobs, the trial prefix), error classes,
// backoff jitter bounds, spacing per destination, which region twilio_api_url names, and
// the sender asking twice before a resend.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <random>
#include <thread>

#include "shared/delivery/sender.h"
#include "shared/delivery/spacing.h"
#include "shared/twilio/twilio.h"
#include "shared/twilio/twilio_errors.h"
#include "shared/twilio/twilio_list.h"
#include "shared/twilio/twilio_region.h"
#include "tests/unit/fixtures.h"

using namespace smsm;
using LK = LookupResult::Kind;

namespace {

const auto kSince = *parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 +0000");

std::string msg(const std::string& sid, const std::string& body, const char* created,
                const char* sent) {
    return fmt::format(R"({{"sid":"{}","body":"{}","date_created":"{}","date_sent":{}}})", sid,
                       body, created, sent ? fmt::format("\"{}\"", sent) : "null");
}

std::string page(const std::vector<std::string>& msgs, const char* next) {
    std::string list;
    for (const auto& m : msgs) list += (list.empty() ? "" : ",") + m;
    return fmt::format(R"({{"messages":[{}],"next_page_uri":{}}})", list,
                       next ? fmt::format("\"{}\"", next) : "null");
}

constexpr const char* kOld = "Wed, 25 Nov 2026 17:00:00 +0000";
constexpr const char* kNew = "Wed, 25 Nov 2026 19:00:05 +0000";

// Walks pages the way find_message does; how many pages it read, and what it found.
std::pair<LookupResult, int> walk(ListScan& scan, const std::vector<std::string>& pages) {
    LookupResult r;
    for (std::size_t i = 0; i < pages.size(); ++i) {
        r = scan.page(pages[i]);
        if (r.kind != LK::NotFound || r.next_page_uri.empty()) return {r, static_cast<int>(i + 1)};
    }
    return {r, static_cast<int>(pages.size())};
}

}  // namespace

TEST_CASE("the trial prefix is the only difference same_text forgives") {
    CHECK(same_text("DISK FULL", "DISK FULL"));
    CHECK(same_text("Sent from your Twilio trial account - DISK FULL", "DISK FULL"));
    CHECK_FALSE(same_text("Sent from your Twilio trial account - DISK FULL!", "DISK FULL"));
    CHECK_FALSE(same_text("Sent from your Twilio trial account -DISK FULL", "DISK FULL"));
    CHECK_FALSE(same_text("DISK FULL", "Sent from your Twilio trial account - DISK FULL"));
    CHECK_FALSE(same_text("disk full", "DISK FULL"));
}

TEST_CASE("the list walk: a queued message behind more than a page of older ones") {
    // 60 older messages to the number, 25 a page; the one looked for is still queued
    // (date_sent null) and sorts last: on the third page.
    std::vector<std::string> older;
    for (int i = 0; i < 60; ++i)
        older.push_back(msg(fmt::format("SMold{}", i), "DISK FULL", kOld, kOld));
    auto queued = msg("SMqueued", "DISK FULL", kNew, nullptr);
    std::vector<std::string> all = older;

    SUBCASE("null dates sort last") {
        all.push_back(queued);
        std::vector<std::string> pages;
        for (std::size_t i = 0; i < all.size(); i += 25)
            pages.push_back(page({all.begin() + static_cast<long>(i),
                                  all.begin() + static_cast<long>(std::min(all.size(), i + 25))},
                                 i + 25 < all.size() ? "/next" : nullptr));
        ListScan scan("DISK FULL", kSince, {});
        auto [r, pages_read] = walk(scan, pages);
        CHECK(r.kind == LK::Found);
        CHECK(r.sid == "SMqueued");
        CHECK(pages_read == 3);  // the old rule stopped after the first: a second SMS
    }
    SUBCASE("null dates sort first: the walk ends at the first older message") {
        all.insert(all.begin(), msg("SMother", "CPU HIGH", kNew, nullptr));
        std::vector<std::string> pages;
        for (std::size_t i = 0; i < all.size(); i += 25)
            pages.push_back(page({all.begin() + static_cast<long>(i),
                                  all.begin() + static_cast<long>(std::min(all.size(), i + 25))},
                                 i + 25 < all.size() ? "/next" : nullptr));
        ListScan scan("DISK FULL", kSince, {});
        auto [r, pages_read] = walk(scan, pages);
        CHECK(r.kind == LK::NotFound);
        CHECK(pages_read == 1);
    }
    SUBCASE("no null date seen: nulls may sort last, so the walk goes to the end") {
        std::vector<std::string> pages;
        for (std::size_t i = 0; i < all.size(); i += 25)
            pages.push_back(page({all.begin() + static_cast<long>(i),
                                  all.begin() + static_cast<long>(std::min(all.size(), i + 25))},
                                 i + 25 < all.size() ? "/next" : nullptr));
        ListScan scan("DISK FULL", kSince, {});
        auto [r, pages_read] = walk(scan, pages);
        CHECK(r.kind == LK::NotFound);
        CHECK(pages_read == 3);
    }
}

TEST_CASE("the list walk: matching rules") {
    struct Case {
        const char* name;
        std::vector<std::string> msgs;
        std::set<std::string> taken;
        LK want;
        const char* sid;
    };
    const Case cases[] = {
        {"newer, same body", {msg("SMa", "DISK FULL", kNew, kNew)}, {}, LK::Found, "SMa"},
        {"queued, same body", {msg("SMa", "DISK FULL", kNew, nullptr)}, {}, LK::Found, "SMa"},
        {"created before the job", {msg("SMa", "DISK FULL", kOld, nullptr)}, {}, LK::NotFound, ""},
        {"other body", {msg("SMa", "CPU HIGH", kNew, kNew)}, {}, LK::NotFound, ""},
        {"trial prefix",
         {msg("SMa", "Sent from your Twilio trial account - DISK FULL", kNew, kNew)},
         {},
         LK::Found,
         "SMa"},
        // Two identical alerts, the second uncertain: the first one's SMS is not the second's.
        {"another job's SID", {msg("SMa", "DISK FULL", kNew, kNew)}, {"SMa"}, LK::NotFound, ""},
        {"another job's SID, then ours",
         {msg("SMa", "DISK FULL", kNew, kNew), msg("SMb", "DISK FULL", kNew, kNew)},
         {"SMa"},
         LK::Found,
         "SMb"},
        {"no date_created",
         {R"({"sid":"SMa","body":"DISK FULL","date_sent":null})"},
         {},
         LK::NotFound,
         ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        ListScan scan("DISK FULL", kSince, c.taken);
        LookupResult r = scan.page(page(c.msgs, nullptr));
        CHECK(r.kind == c.want);
        CHECK(r.sid == c.sid);
    }
    ListScan scan("x", kSince, {});
    CHECK(scan.page("<html>").kind == LK::Error);
    CHECK(scan.page(R"({"messages":{}})").kind == LK::Error);
}

TEST_CASE("the list walk: where it stops") {
    // A page of newer messages only: go on.
    ListScan a("DISK FULL", kSince, {});
    CHECK(a.page(page({msg("SMa", "other", kNew, kNew)}, "/p1")).next_page_uri == "/p1");
    // Older messages and nulls known to sort first: done.
    ListScan b("DISK FULL", kSince, {});
    CHECK(b.page(page({msg("SMn", "other", kNew, nullptr), msg("SMo", "other", kOld, kOld)}, "/p1"))
              .next_page_uri.empty());
    // Older messages, nulls not seen first (they may sort last): go on to the end.
    ListScan c("DISK FULL", kSince, {});
    CHECK(c.page(page({msg("SMo", "other", kOld, kOld)}, "/p1")).next_page_uri == "/p1");
    CHECK(c.page(page({msg("SMo2", "other", kOld, kOld)}, nullptr)).next_page_uri.empty());
    // A null in the middle of dated ones does not make nulls "first".
    ListScan d("DISK FULL", kSince, {});
    CHECK(d.page(page({msg("SMa", "other", kNew, kNew), msg("SMn", "other", kNew, nullptr),
                       msg("SMo", "other", kOld, kOld)},
                      "/p1"))
              .next_page_uri == "/p1");
}

TEST_CASE("error classes as Twilio documents them") {
    using K = SendResult::Kind;
    struct Case {
        long status;
        const char* body;
        K want;
    };
    const Case cases[] = {
        // 21611: the sender's queue is full: temporary, retried, not failed.
        {400,
         R"({"code":21611,"message":"This 'From' number has exceeded the maximum number of queued messages"})",
         K::Retry},
        // 20429 whatever the HTTP status.
        {429, R"({"code":20429})", K::Retry},
        {400, R"({"code":20429})", K::Retry},
        {503, R"({"code":20429})", K::Retry},
        {429, "", K::Retry},
        // A restricted key without the permission: configuration, the job is kept.
        {403, R"({"code":70051,"message":"Authorization Failed"})", K::AuthError},
        {401, R"({"code":20003})", K::AuthError},
        {400, R"({"code":21211})", K::Permanent},
        {400, R"({"code":21610})", K::Permanent},
    };
    for (const auto& c : cases) {
        CAPTURE(c.status);
        CAPTURE(c.body);
        CHECK(classify_response(c.status, c.body, std::nullopt).kind == c.want);
    }
    CHECK(twilio_code_is_temporary(21611));
    CHECK(twilio_code_is_temporary(20429));
    CHECK_FALSE(twilio_code_is_temporary(21211));
    // Failures found after acceptance (delivery status): the table knows what they mean.
    CHECK(twilio_error_meaning(30001).find("queue overflow") != std::string_view::npos);
    CHECK(twilio_error_meaning(14107).find("30 in 30 seconds") != std::string_view::npos);
    CHECK(twilio_error_meaning(21611).find("queue") != std::string_view::npos);
    CHECK(twilio_error_meaning(12345).empty());
}

TEST_CASE("backoff: exponential, with jitter that only adds, up to 20 %") {
    Config c;
    c.minimal_backoff_time = std::chrono::seconds(10);
    c.maximal_backoff_time = std::chrono::seconds(600);
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto now = Clock::time_point(std::chrono::milliseconds(1795633200123));
    for (int attempts = 1; attempts <= 8; ++attempts) {
        auto delay = backoff_delay(c, attempts, std::nullopt);
        CHECK(delay ==
              std::min(std::chrono::seconds(10 << (attempts - 1)), c.maximal_backoff_time));
        Clock::duration lo = Clock::duration::max(), hi = Clock::duration::zero();
        for (int i = 0; i < 2000; ++i) {
            auto wait = retry_time(now, delay, u(rng)) - now;
            lo = std::min(lo, wait);
            hi = std::max(hi, wait);
        }
        CAPTURE(attempts);
        CHECK(lo >= delay);                                     // never before the delay
        CHECK(hi <= delay + delay / 5);                         // at most 20 % more
        CHECK(hi - lo >= delay / 5 - std::chrono::seconds(1));  // and spread over that span
    }
    // A Retry-After is honoured when longer, and jitter never cuts it short.
    auto delay = backoff_delay(c, 1, std::chrono::seconds(45));
    CHECK(delay == std::chrono::seconds(45));
    CHECK(retry_time(now, delay, 0.0) - now >= std::chrono::seconds(45));
}

TEST_CASE("destination spacing: one start per gap per number, others not held up") {
    using namespace std::chrono;
    DestinationSpacing sp(seconds(1));
    steady_clock::time_point t0{seconds(100)};
    CHECK(sp.may_start("+1", t0));
    sp.started("+1", t0);
    CHECK_FALSE(sp.may_start("+1", t0 + milliseconds(999)));
    CHECK(sp.may_start("+2", t0 + milliseconds(1)));
    CHECK(sp.next_start("+1") == t0 + seconds(1));
    CHECK(sp.may_start("+1", t0 + seconds(1)));
    // A storm to one number started whenever allowed: never more than 30 in any 30 s.
    std::vector<steady_clock::time_point> starts;
    auto t = t0 + seconds(5);
    while (starts.size() < 100) {
        if (sp.may_start("+9", t)) {
            sp.started("+9", t);
            starts.push_back(t);
        }
        t += milliseconds(7);
    }
    for (std::size_t i = 30; i < starts.size(); ++i)
        CHECK(starts[i] - starts[i - 30] >= seconds(30));
    // Old numbers are forgotten.
    for (int i = 0; i < 1000; ++i) sp.started(fmt::format("+1{}", i), t + milliseconds(i));
    sp.started("+x", t + seconds(10));
    CHECK(sp.size() == 1);
    DestinationSpacing off(seconds(0));
    off.started("+1", t0);
    CHECK(off.may_start("+1", t0));
}

TEST_CASE("which Twilio region twilio_api_url points at") {
    struct Case {
        const char* url;
        const char* region;
        const char* edge;
        bool problem;
    };
    const Case cases[] = {
        {"https://api.twilio.com", "US1", "", false},
        {"https://API.Twilio.com:443/", "US1", "", false},
        {"https://api.dublin.ie1.twilio.com", "IE1", "dublin", false},
        {"https://api.sydney.au1.twilio.com", "AU1", "sydney", false},
        {"https://api.ashburn.us1.twilio.com", "US1", "ashburn", false},
        {"https://api.ie1.twilio.com", "IE1", "", true},  // retired 2026-04-28
        {"https://messaging.twilio.com", "?", "", true},
        {"https://127.0.0.1:8443", "", "", false},
        {"https://[::1]:8443", "", "", false},
        {"https://proxy.example.com/twilio", "", "", false},
        {"https://twilio.com.evil.example", "", "", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.url);
        auto r = twilio_region(c.url);
        CHECK(r.region == c.region);
        CHECK(r.edge == c.edge);
        CHECK(r.problem.empty() == !c.problem);
    }
    CHECK(twilio_region("https://api.twilio.com").describe() ==
          "twilio_api_url is Twilio region US1 (the default)");
    CHECK(twilio_region("https://api.dublin.ie1.twilio.com").describe() ==
          "twilio_api_url is Twilio region IE1 via the dublin edge; the credentials must be "
          "IE1's own");
}

namespace {

// Sends everything at once with SID "SM<tag>", and records what it sent.
class SendAll final : public SmsTransport {
  public:
    explicit SendAll(std::vector<std::string>& out) : sent(out) {}
    void submit(std::int64_t tag, const std::string&, const std::string& body) override {
        std::lock_guard lock(mutex_);
        sent.push_back(body);
        done_.push_back({tag, SendResult{SendResult::Kind::Sent, 201, 0, "SM" + std::to_string(tag),
                                         1, "", std::nullopt}});
        cv_.notify_all();
    }
    std::size_t in_flight() const override {
        std::lock_guard lock(mutex_);
        return done_.size();
    }
    std::vector<SmsDone> run(std::chrono::steady_clock::time_point until) override {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, until, [&] { return woken_ || !done_.empty(); });
        woken_ = false;
        return std::exchange(done_, {});
    }
    void wake() override {
        std::lock_guard lock(mutex_);
        woken_ = true;
        cv_.notify_all();
    }
    std::vector<std::string>& sent;  // read once the sender has stopped

  private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<SmsDone> done_;
    bool woken_ = false;
};

// Answers every lookup with `answer`, and records when it was asked and what was taken.
struct ScriptedLookup final : public MessageLookup {
    LookupResult answer;
    std::mutex mutex;
    std::vector<Clock::time_point> asked;
    std::vector<std::set<std::string>> taken;
    LookupResult find_message(const std::string&, const std::string&, Clock::time_point,
                              const std::set<std::string>& t) override {
        std::lock_guard lock(mutex);
        asked.push_back(Clock::now());
        taken.push_back(t);
        return answer;
    }
};

struct SenderRig {
    test::TempDir d;
    ConfigHolder holder;
    Outbox outbox;
    std::vector<std::string> sent;  // what the transport sent; read once the sender stopped
    ScriptedLookup lookup;
    Sender sender;
    explicit SenderRig(const std::string& extra)
        : holder(test::load_test_config(d, "state_directory = " + d.path() + "\n" + extra)),
          outbox(d.path()),
          sender(holder, outbox,
                 TwilioFactory{
                     [this](const Config&) -> std::unique_ptr<SmsTransport> {
                         return std::make_unique<SendAll>(sent);
                     },
                     [this](const Config&) -> std::unique_ptr<MessageLookup> {
                         struct Ref final : MessageLookup {
                             ScriptedLookup& to;
                             explicit Ref(ScriptedLookup& l) : to(l) {}
                             LookupResult find_message(const std::string& a, const std::string& b,
                                                       Clock::time_point s,
                                                       const std::set<std::string>& t) override {
                                 return to.find_message(a, b, s, t);
                             }
                         };
                         return std::make_unique<Ref>(lookup);
                     }}) {}
    std::int64_t uncertain_job(const std::string& body) {
        NewJob j{"Q",
                 "a@example.com",
                 "<x@sms>",
                 "+14155550123",
                 body,
                 "",
                 Clock::now() + std::chrono::hours(1)};
        auto id = outbox.enqueue({j}, std::chrono::seconds(0)).ids.at(0);
        outbox.mark_deferred(id, Clock::now(), "outcome unknown", true);
        return id;
    }
    template <class Pred>
    bool wait(Pred pred, std::chrono::seconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return pred();
    }
};

}  // namespace

TEST_CASE("not found: sent again only after a second lookup lookup_recheck_time later") {
    SenderRig rig("lookup_recheck_time = 2s\nminimal_backoff_time = 1s\n");
    rig.lookup.answer = {LK::NotFound, "", "", ""};
    auto id = rig.uncertain_job("lost");
    rig.sender.start();
    rig.sender.wake();
    bool sent = rig.wait([&] { return rig.outbox.get(id)->state == JobState::Sent; },
                         std::chrono::seconds(15));
    rig.sender.stop();
    REQUIRE(sent);
    std::lock_guard lock(rig.lookup.mutex);
    REQUIRE(rig.lookup.asked.size() == 2);  // one miss alone never resends
    CHECK(rig.lookup.asked[1] - rig.lookup.asked[0] >= std::chrono::seconds(2));
    CHECK(rig.sent == std::vector<std::string>{"lost"});
}

TEST_CASE("a throttled or failed lookup is looked at again later, even with resend") {
    SenderRig rig("lookup_failure_action = resend\nminimal_backoff_time = 30s\n");
    rig.lookup.answer = {LK::Unavailable, "", "HTTP 429 code 20429: Too Many Requests", ""};
    auto id = rig.uncertain_job("maybe");
    rig.sender.start();
    rig.sender.wake();
    bool looked = rig.wait(
        [&] {
            std::lock_guard lock(rig.lookup.mutex);
            return !rig.lookup.asked.empty() && rig.outbox.get(id)->state == JobState::Deferred;
        },
        std::chrono::seconds(10));
    rig.sender.stop();
    REQUIRE(looked);
    auto job = rig.outbox.get(id);
    CHECK(job->check_first);  // still to be looked up first
    CHECK(job->last_error.find("20429") != std::string::npos);
    CHECK(rig.sent.empty());  // lookup_failure_action = resend did not apply
}

TEST_CASE("the lookup is told the SIDs the outbox gave other jobs to that number") {
    SenderRig rig("lookup_recheck_time = 1h\n");
    rig.lookup.answer = {LK::Found, "SMfirst", "", ""};
    NewJob first{"Q",
                 "a@example.com",
                 "<x@sms>",
                 "+14155550123",
                 "DISK FULL",
                 "",
                 Clock::now() + std::chrono::hours(1)};
    auto first_id = rig.outbox.enqueue({first}, std::chrono::seconds(0)).ids.at(0);
    rig.outbox.claim_due(1, 0);
    rig.outbox.mark_sent(first_id, "SMfirst");
    auto id = rig.uncertain_job("DISK FULL");
    rig.sender.start();
    rig.sender.wake();
    // The lookup (wrongly) answers with the first job's SID: the outbox must not give one
    // message to two jobs.
    rig.wait(
        [&] {
            std::lock_guard lock(rig.lookup.mutex);
            return !rig.lookup.asked.empty();
        },
        std::chrono::seconds(10));
    rig.wait([&] { return rig.outbox.get(id)->state != JobState::Sending; },
             std::chrono::seconds(5));
    rig.sender.stop();
    std::lock_guard lock(rig.lookup.mutex);
    REQUIRE_FALSE(rig.lookup.taken.empty());
    CHECK(rig.lookup.taken[0] == std::set<std::string>{"SMfirst"});
    CHECK(rig.outbox.get(id)->state == JobState::Deferred);
    CHECK(rig.outbox.get(id)->sid.empty());
}
