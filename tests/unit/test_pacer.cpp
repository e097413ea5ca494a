// The pacer's arithmetic (twilio_send_rate), with times passed in: spacing, making up for a
// late start, the window rule, rate changes, and a simulated dispatcher that wakes on
// whole milliseconds and sometimes late, for the long-run rate and the bound per second.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "shared/delivery/pacer.h"

using namespace smsm;
using namespace std::chrono_literals;
using TimePoint = Pacer::TimePoint;

namespace {
const TimePoint t0 = TimePoint{} + 1h;

// Starts a request at t and returns the next allowed start, relative to t0.
Pacer::Duration start_at(Pacer& p, Pacer::Duration t) {
    REQUIRE(p.may_start(t0 + t));
    p.started(t0 + t);
    return p.next_start() - t0;
}

// A dispatcher that always has a job waiting: it starts what it may, then sleeps until the
// next allowed start rounded up to a whole millisecond (as curl_multi_poll does), plus a
// jitter of 0 to 0.3 ms, and every 997th wake-up 15 ms more (a busy machine).
std::vector<TimePoint> simulate(double rate, Pacer::Duration span) {
    Pacer p;
    p.set_rate(rate);
    std::vector<TimePoint> starts;
    std::uint32_t lcg = 12345;
    auto t = t0;
    for (int wake = 1; t < t0 + span; ++wake) {
        while (p.may_start(t)) {
            p.started(t);
            starts.push_back(t);
        }
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(p.next_start() - t);
        lcg = lcg * 1664525u + 1013904223u;
        auto jitter = std::chrono::microseconds((lcg >> 8) % 300);
        t += wait + jitter + (wake % 997 == 0 ? 15ms : 0ms);
    }
    return starts;
}

// The most starts in any half-open window of `width`.
std::size_t most_within(const std::vector<TimePoint>& starts, Pacer::Duration width) {
    std::size_t most = 0;
    for (std::size_t i = 0, j = 0; i < starts.size(); ++i) {
        while (j < starts.size() && starts[j] < starts[i] + width) ++j;
        most = std::max(most, j - i);
    }
    return most;
}
}  // namespace

TEST_CASE("unpaced: every start may go at once") {
    Pacer p;
    CHECK_FALSE(p.paced());
    for (int i = 0; i < 100; ++i) {
        CHECK(p.may_start(t0));
        p.started(t0);
    }
    CHECK(p.starts_within(t0, 0s) > 1000000);
}

TEST_CASE("spacing: 1/rate apart; a little late is made up for, a lot late is not") {
    Pacer p;
    p.set_rate(4);  // 250 ms apart; a start up to 62.5 ms late is made up for
    CHECK(p.may_start(t0));
    CHECK(start_at(p, 0ms) == 250ms);
    CHECK_FALSE(p.may_start(t0 + 249ms));
    CHECK(p.may_start(t0 + 250ms));
    CHECK(start_at(p, 260ms) == 500ms);   // 10 ms late: the next keeps its place
    CHECK(start_at(p, 562ms) == 750ms);   // 62 ms late: still
    CHECK(start_at(p, 850ms) == 1100ms);  // 100 ms late: the next a whole interval later
    CHECK(start_at(p, 5s) == 5250ms);     // after a pause: no burst to catch up
}

TEST_CASE("window: never more than N starts in N/rate seconds") {
    SUBCASE("a whole rate: at most the rate in any second") {
        Pacer p;
        p.set_rate(4);
        CHECK(start_at(p, 0ms) == 250ms);
        CHECK(start_at(p, 300ms) == 500ms);  // 50 ms late, made up for by the spacing rule...
        CHECK(start_at(p, 500ms) == 750ms);
        CHECK(start_at(p, 750ms) == 1000ms);
        CHECK(start_at(p, 1000ms) == 1300ms);  // ...but the window is 300 ms + 1 s
        CHECK(start_at(p, 1300ms) == 1500ms);  // 50 ms late again: made up for
    }
    SUBCASE("2.5 per second: 3 in any 1.2 s") {
        Pacer p;
        p.set_rate(2.5);  // 400 ms apart, 100 ms of slack
        CHECK(start_at(p, 0ms) == 400ms);
        CHECK(start_at(p, 490ms) == 800ms);
        CHECK(start_at(p, 800ms) == 1200ms);
        CHECK(start_at(p, 1200ms) == 1690ms);  // 490 ms + 1.2 s
    }
    SUBCASE("under 1 per second: one per 1/rate, late or not") {
        Pacer p;
        p.set_rate(0.5);
        CHECK(start_at(p, 0ms) == 2s);
        CHECK(start_at(p, 2300ms) == 4300ms);  // the spacing rule alone would say 4 s
    }
}

TEST_CASE("a new rate applies to the next start, counting the starts made") {
    Pacer p;
    p.set_rate(1);
    CHECK(start_at(p, 0ms) == 1s);
    p.set_rate(10);
    CHECK(p.next_start() - t0 == 100ms);
    p.set_rate(0.5);
    CHECK(p.next_start() - t0 == 2s);
    p.set_rate(0);
    CHECK(p.may_start(t0));
    p.set_rate(0.5);  // back to pacing: what came before counts no more
    CHECK(p.may_start(t0));
}

TEST_CASE("starts_within: how many jobs are worth claiming now") {
    Pacer p;
    p.set_rate(100);  // 10 ms apart
    CHECK(p.starts_within(t0, 250ms) == 26);
    p.started(t0);
    CHECK(p.starts_within(t0, 5ms) == 0);
    CHECK(p.starts_within(t0, 10ms) == 1);
    CHECK(p.starts_within(t0 + 10ms, 250ms) == 26);
    p.set_rate(1);
    CHECK(p.starts_within(t0, 250ms) == 0);
    CHECK(p.starts_within(t0 + 750ms, 250ms) == 1);
}

TEST_CASE("simulated dispatcher: the long-run rate within 2 %, the bounds always kept") {
    for (double rate : {0.5, 1.0, 2.0, 2.5, 5.0, 20.0, 100.0, 300.0, 1000.0}) {
        CAPTURE(rate);
        auto starts = simulate(rate, 120s);
        REQUIRE(starts.size() > 50);
        double span = std::chrono::duration<double>(starts.back() - starts.front()).count();
        double achieved = static_cast<double>(starts.size() - 1) / span;
        CAPTURE(achieved);
        CHECK(std::abs(achieved - rate) / rate < 0.02);
        CHECK(achieved <= rate * (1 + 1e-9));
        auto interval = std::chrono::duration<double>(1.0 / rate);
        Pacer::Duration min_gap = Pacer::Duration::max();
        for (std::size_t i = 1; i < starts.size(); ++i)
            min_gap = std::min(min_gap, starts[i] - starts[i - 1]);
        auto slack = std::max<std::chrono::duration<double>>(interval / 4, 2ms);
        CHECK(std::chrono::duration<double>(min_gap) >= interval - slack);
        if (rate >= 1)
            CHECK(most_within(starts, 1s) <= static_cast<std::size_t>(std::ceil(rate)));
        else
            CHECK(std::chrono::duration<double>(min_gap) >= interval * (1 - 1e-9));
    }
}
