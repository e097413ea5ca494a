// Rate limits (reserve at RCPT, commit or release at end of message, sliding windows) and
// storm windows (what counts as the same text, hold-back, summary) through Message and the
// SQLite outbox.
#include <doctest/doctest.h>

#include <thread>

#include "shared/base/clock.h"
#include "shared/config_load/load_config.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/rate_limit.h"
#include "shared/session/session.h"
#include "shared/text/storm_text.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

const std::string kA = "+14155550123";
const std::string kB = "+14155550124";

// One message from sender to rcpt with this subject; what end of message did.
EomOutcome send(const std::shared_ptr<const Config>& cfg, RateLimiter* limits, Outbox& outbox,
                const std::string& rcpt, const std::string& subject,
                const std::string& sender = "<alerts@example.com>", Reply* rcpt_reply = nullptr) {
    Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), sender, ""}, limits);
    Reply r = m.rcpt(rcpt, "Q");
    if (rcpt_reply) *rcpt_reply = r;
    if (r.action != Reply::Action::Continue) return {};
    m.header("Subject", subject);
    return m.end("Q", outbox);
}

std::string summary_text(std::int64_t held, std::int64_t window, const std::string& sample) {
    return storm_summary(held, window, sample);
}

}  // namespace

TEST_CASE("rate limits: parsed as N/PERIOD, none turns one off") {
    test::TempDir d;
    auto cfg = test::load_test_config(d);
    CHECK(cfg->sender_rate_limit.str() == "500/1h");
    CHECK(cfg->destination_rate_limit.str() == "60/1h");
    CHECK(cfg->global_rate_limit.str() == "2000/1h");
    CHECK(cfg->storm_window == std::chrono::minutes(5));
    cfg = test::load_test_config(d, "destination_rate_limit = 2/90s\nglobal_rate_limit = none\n");
    CHECK(cfg->destination_rate_limit.count == 2);
    CHECK(cfg->destination_rate_limit.period == std::chrono::seconds(90));
    CHECK(cfg->destination_rate_limit.str() == "2/90s");
    CHECK(!cfg->global_rate_limit.on());
    for (const char* bad : {"2", "0/1h", "x/1h", "2/", "2/0s", "2/8d", "-1/1h", "1/1h/1h"}) {
        auto load = load_config(
            d.write("c.conf", test::minimal_config(d) + "sender_rate_limit = " + bad + "\n"));
        CHECK_MESSAGE(!load.config, bad);
    }
}

TEST_CASE("a reservation counts until it is committed or released") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "destination_rate_limit = 2/1h\n");
    RateLimiter limits;
    auto now = unix_now();
    CHECK(!limits.reserve(*cfg, "<a@x>", {kA}, now));
    CHECK(!limits.reserve(*cfg, "<a@x>", {kA}, now));
    auto hit = limits.reserve(*cfg, "<b@x>", {kA}, now);
    REQUIRE(hit);
    CHECK(hit->kind == LimitKind::Destination);
    CHECK(!limits.reserve(*cfg, "<b@x>", {kB}, now));  // another number is not touched
    limits.release("<a@x>", kA);
    CHECK(!limits.reserve(*cfg, "<b@x>", {kA}, now));  // the released one made room
    limits.commit("<a@x>", kA, now);
    limits.commit("<b@x>", kA, now);
    CHECK(limits.reserve(*cfg, "<c@x>", {kA}, now + 3599));
    CHECK(!limits.reserve(*cfg, "<c@x>", {kA}, now + 3600));  // the window slid past them
}

TEST_CASE("an alias is reserved all or none, and a number twice counts twice") {
    test::TempDir d;
    auto cfg =
        test::load_test_config(d, "destination_rate_limit = 2/1h\nsender_rate_limit = 3/1h\n");
    RateLimiter limits;
    auto now = unix_now();
    CHECK(!limits.reserve(*cfg, "<a@x>", {kA, kB}, now));
    auto hit = limits.reserve(*cfg, "<A@X>", {kA, kB}, now);  // the sender, case-insensitively
    REQUIRE(hit);
    CHECK(hit->kind == LimitKind::Sender);
    CHECK(limits.reserve(*cfg, "<other@x>", {kA, kA}, now)->kind == LimitKind::Destination);
    CHECK(!limits.reserve(*cfg, "<other@x>", {kA}, now));  // the refused ones reserved nothing
}

TEST_CASE("the global limit counts every sender and number") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "global_rate_limit = 2/1m\n");
    RateLimiter limits;
    auto now = unix_now();
    CHECK(!limits.reserve(*cfg, "<a@x>", {kA}, now));
    CHECK(!limits.reserve(*cfg, "<b@x>", {kB}, now));
    auto hit = limits.reserve(*cfg, "<c@x>", {"+14155550125"}, now);
    REQUIRE(hit);
    CHECK(hit->kind == LimitKind::Global);
    CHECK(hit->limit.str() == "2/1m");
}

TEST_CASE("past a limit RCPT gets 450 4.7.1 naming it; counts come back from the outbox") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "destination_rate_limit = 2/1h\nstorm_window = 0\n");
    Outbox outbox(d.path());
    RateLimiter limits;
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "one").job_ids.size() == 1);
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "two").job_ids.size() == 1);
    Reply r;
    send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "three", "<alerts@example.com>", &r);
    CHECK(r.str() ==
          "450 4.7.1 SMS rate limit reached (destination_rate_limit 2/1h), try again later");
    CHECK(send(cfg, &limits, outbox, "<4155550124@sms.example.com>", "other").job_ids.size() == 1);

    RateLimiter restarted;  // as after a restart
    for (const auto& c : outbox.counted_since(unix_now() - RateLimiter::kLongestPeriod))
        restarted.add_past(c.at, c.sender, c.number);
    send(cfg, &restarted, outbox, "<4155550123@sms.example.com>", "four", "<x@example.com>", &r);
    CHECK(r.rcode == "450");
    auto standing = restarted.standing_of(*cfg, "<alerts@example.com>", kA, unix_now());
    REQUIRE(standing.size() == 3);
    CHECK(standing[0].kind == LimitKind::Sender);
    CHECK(standing[0].used == 3);
    CHECK(standing[1].used == 2);
    CHECK(standing[2].used == 3);  // global
}

TEST_CASE("a number named twice in one message is counted once") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "destination_rate_limit = 1/1h\n");
    Outbox outbox(d.path());
    RateLimiter limits;
    Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<a@example.com>", ""}, &limits);
    CHECK(m.rcpt("<4155550123@sms.example.com>", "Q").action == Reply::Action::Continue);
    CHECK(m.rcpt("<+14155550123@sms.example.com>", "Q").action == Reply::Action::Continue);
    m.header("Subject", "x");
    CHECK(m.end("Q", outbox).job_ids.size() == 1);
    CHECK(limits.reserve(*cfg, "<b@example.com>", {kA}, unix_now()));
}

TEST_CASE("a message that is not queued gives its reservations back") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "destination_rate_limit = 1/1h\n");
    Outbox outbox(d.path());
    RateLimiter limits;
    {
        Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<a@example.com>", ""}, &limits);
        CHECK(m.rcpt("<4155550123@sms.example.com>", "Q").action == Reply::Action::Continue);
    }  // aborted
    {
        Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<a@example.com>", ""}, &limits);
        CHECK(m.rcpt("<4155550123@sms.example.com>", "Q").action == Reply::Action::Continue);
        CHECK(m.end("Q", outbox).reply.rcode == "550");  // no text
    }
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "x").job_ids.size() == 1);
}

TEST_CASE("storm_fingerprint ignores numbers standing alone, case and spacing") {
    CHECK(storm_fingerprint("Load 4.52 at 12:03:55 on 2026-12-01") ==
          storm_fingerprint("load 7.10  at 12:04:55\non 2026-12-02"));
    CHECK(storm_fingerprint("retry 3 of 10, 91% full") ==
          storm_fingerprint("retry 4 of 10, 99% full"));
    CHECK(storm_fingerprint("web01 is DOWN") != storm_fingerprint("web02 is DOWN"));
    CHECK(storm_fingerprint("HTTP 5xx on api") != storm_fingerprint("HTTP 4xx on api"));
    CHECK(storm_fingerprint("host down") != storm_fingerprint("host up"));
    CHECK(storm_fingerprint("Zähler 5 über") == storm_fingerprint("zähler 6 über"));
    CHECK(storm_fingerprint("ab12") != storm_fingerprint("ab13"));  // in a word
}

TEST_CASE("storm_sample and storm_summary") {
    CHECK(storm_sample("DISK FULL\n db1  at 99%") == "DISK FULL db1 at 99%");
    std::string longer(200, 'x');
    CHECK(storm_sample(longer) == std::string(kStormSampleChars, 'x') + "...");
    CHECK(storm_sample("PROBLEM: the HTTP service on web01.example.com is CRITICAL since "
                       "12:00") == "PROBLEM: the HTTP service on web01.example.com is CRITICAL...");
    CHECK(storm_summary(7, 300, "DISK FULL") ==
          "7 more alerts like this within 5m not sent (storm_window). Latest: DISK FULL");
    CHECK(storm_summary(1, 3600, "x") ==
          "1 more alert like this within 1h not sent (storm_window). Latest: x");
}

TEST_CASE("storm_window: the same alert again is held back, then summarised once") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "storm_window = 2s\n");
    Outbox outbox(d.path());
    RateLimiter limits;
    auto first = send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "DISK 91% full");
    REQUIRE(first.job_ids.size() == 1);
    for (const char* subject : {"DISK 93% full", "disk 97% FULL"}) {
        auto again = send(cfg, &limits, outbox, "<4155550123@sms.example.com>", subject);
        CHECK(again.job_ids.empty());
        CHECK(again.reply.action == Reply::Action::Discard);  // accepted, recipient removed
        CHECK(again.remove.size() == 1);
    }
    // Another number, another sender or another text is not part of that storm.
    CHECK(send(cfg, &limits, outbox, "<4155550124@sms.example.com>", "DISK 91% full")
              .job_ids.size() == 1);
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "DISK 91% full",
               "<other@example.com>")
              .job_ids.size() == 1);
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "db2 DISK 91% full")
              .job_ids.size() == 1);
    CHECK(outbox.storm_counts().held == 2);
    CHECK(outbox.close_storms(summary_text).empty());  // still open
    auto due = outbox.next_due(false);
    REQUIRE(due);
    // The held-back alerts did not count against the rate limits: kA was texted 3 times.
    CHECK(limits.standing_of(*cfg, "<alerts@example.com>", kA, unix_now())[1].used == 3);

    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto closed = outbox.close_storms(summary_text);
    REQUIRE(closed.size() == 1);  // the storms with nothing held back say nothing
    CHECK(closed[0].first_job == first.job_ids[0]);
    CHECK(closed[0].held == 2);
    CHECK(closed[0].number == kA);
    auto job = outbox.get(closed[0].job);
    REQUIRE(job);
    CHECK(job->state == JobState::Queued);
    CHECK(job->sender == "alerts@example.com");
    CHECK(job->body ==
          "2 more alerts like this within 2s not sent (storm_window). Latest: disk 97% FULL");
    CHECK(outbox.close_storms(summary_text).empty());  // exactly once
    CHECK(outbox.storm_counts().open == 0);
    // After the window, the same alert is texted again and opens a new window.
    CHECK(send(cfg, &limits, outbox, "<4155550123@sms.example.com>", "DISK 99% full")
              .job_ids.size() == 1);
}

TEST_CASE("storm_window = 0 texts every alert") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "storm_window = 0\nduplicate_window = 0\n");
    Outbox outbox(d.path());
    for (int i = 0; i < 3; ++i)
        CHECK(send(cfg, nullptr, outbox, "<4155550123@sms.example.com>", "DISK full")
                  .job_ids.size() == 1);
    CHECK(outbox.storm_counts().open == 0);
}
