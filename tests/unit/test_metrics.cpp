// The metrics registry and its text format: metrics_listen values, histogram buckets (a value
// on a bound counts in that bucket), the bounded map of run-time labels, label escaping, and
// what a scrape shows of the outbox.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "shared/metrics/exposition.h"
#include "shared/metrics/listen_address.h"
#include "shared/metrics/metrics.h"
#include "shared/metrics/registry.h"

using namespace smsm::metrics;

TEST_CASE("metrics_listen values") {
    struct Case {
        const char* value;
        bool ok, loopback, ipv6;
    };
    const Case cases[] = {
        {"127.0.0.1:9899", true, true, false},
        {"127.3.4.5:1", true, true, false},
        {"[::1]:9899", true, true, true},
        {"0.0.0.0:9899", true, false, false},
        {"192.0.2.7:65535", true, false, false},
        {"[::]:9899", true, false, true},
        {"[2001:db8::1]:80", true, false, true},
        {"127.0.0.1", false, false, false},
        {"127.0.0.1:0", false, false, false},
        {"127.0.0.1:65536", false, false, false},
        {"localhost:9899", false, false, false},
        {"::1:9899", false, false, false},
        {":9899", false, false, false},
        {"127.0.0.1:99x", false, false, false},
        {"", false, false, false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.value);
        auto a = parse_listen_address(c.value);
        REQUIRE(a.has_value() == c.ok);
        if (!a) continue;
        CHECK(a->loopback == c.loopback);
        CHECK(a->ipv6 == c.ipv6);
        CHECK(listen_warning(c.value).empty() == c.loopback);
    }
}

TEST_CASE("histogram buckets are cumulative, a value on a bound counts in it") {
    Histogram h({0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 1.0, 20.0}) h.observe(v);
    auto s = h.snapshot();
    CHECK(s.cumulative == std::vector<std::uint64_t>{2, 4, 4, 5});
    CHECK(s.sum == doctest::Approx(21.65));
    TextWriter w;
    w.histogram("x_seconds", {{"request", "create"}}, s);
    CHECK(w.text() ==
          "x_seconds_bucket{request=\"create\",le=\"0.1\"} 2\n"
          "x_seconds_bucket{request=\"create\",le=\"1\"} 4\n"
          "x_seconds_bucket{request=\"create\",le=\"10\"} 4\n"
          "x_seconds_bucket{request=\"create\",le=\"+Inf\"} 5\n"
          "x_seconds_sum{request=\"create\"} 21.65\n"
          "x_seconds_count{request=\"create\"} 5\n");
}

TEST_CASE("counters from many threads lose nothing") {
    Counter c;
    Histogram h({1});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                c.add();
                h.observe(0.5);
            }
        });
    for (auto& t : threads) t.join();
    CHECK(c.value() == 40000);
    CHECK(h.snapshot().cumulative.back() == 40000);
    CHECK(h.snapshot().sum == doctest::Approx(20000));
}

TEST_CASE("a counter map keeps at most its number of keys") {
    CounterMap m(2, "other");
    for (const char* k : {"a", "b", "a", "c", "d"}) m.add(k);
    auto s = m.snapshot();
    CHECK(s.size() == 3);
    CHECK(s["a"] == 2);
    CHECK(s["b"] == 1);
    CHECK(s["other"] == 2);
}

TEST_CASE("label values and help text are escaped") {
    TextWriter w;
    w.family("m_total", "counter", "a \\ b\nc \"q\"");
    w.sample("m_total", {{"l", "x\"y\\z\nw"}}, std::uint64_t{3});
    w.sample("g", {}, 0.25);
    CHECK(w.text() ==
          "# HELP m_total a \\\\ b\\nc \"q\"\n# TYPE m_total counter\n"
          "m_total{l=\"x\\\"y\\\\z\\nw\"} 3\ng 0.25\n");
}

TEST_CASE("a scrape shows the outbox as read, or says it could not read it") {
    OutboxGauges g;
    g.readable = true;
    g.queued = 3;
    g.deferred = 2;
    g.oldest_created = 1000;
    std::string text = render_metrics(g, 1700);
    CHECK(text.find("sms_milter_outbox_readable 1\n") != std::string::npos);
    CHECK(text.find("sms_milter_outbox_jobs{state=\"queued\"} 3\n") != std::string::npos);
    CHECK(text.find("sms_milter_outbox_jobs{state=\"sending\"} 0\n") != std::string::npos);
    CHECK(text.find("sms_milter_outbox_jobs{state=\"deferred\"} 2\n") != std::string::npos);
    CHECK(text.find("sms_milter_outbox_oldest_job_age_seconds 700\n") != std::string::npos);
    g.oldest_created.reset();
    CHECK(render_metrics(g, 1700).find("sms_milter_outbox_oldest_job_age_seconds 0\n") !=
          std::string::npos);
    text = render_metrics(OutboxGauges{}, 1700);
    CHECK(text.find("sms_milter_outbox_readable 0\n") != std::string::npos);
    CHECK(text.find("sms_milter_outbox_jobs") == std::string::npos);
}

TEST_CASE("every SMS status and RCPT reason is a series from the start") {
    std::string text = render_metrics(OutboxGauges{}, 0);
    for (const char* s : {"queued", "sent", "deferred", "failed", "suppressed", "duplicate",
                          "delivered", "undelivered", "unknown"})
        CHECK(text.find(std::string("sms_milter_sms_total{status=\"") + s + "\"}") !=
              std::string::npos);
    CHECK(text.find("sms_milter_rcpt_decisions_total{result=\"tempfail\",reason=\"rate_limit\"}") !=
          std::string::npos);
    CHECK(
        text.find("sms_milter_rcpt_decisions_total{result=\"reject\",reason=\"invalid_number\"}") !=
        std::string::npos);
    count_sms(SmsStatus::Delivered, 2);
    CHECK(
        render_metrics(OutboxGauges{}, 0).find("sms_milter_sms_total{status=\"delivered\"} 2\n") !=
        std::string::npos);
}
