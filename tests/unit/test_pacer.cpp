// The pacer's arithmetic (twilio_send_rate), with times passed in: the schedule, making up
// for a late start (not for idle time), the window rule, rate changes, and a simulated
// dispatcher that wakes on whole milliseconds and is held up now and then, for the long-run
// rate and the bound per second.
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
// jitter of 0 to 0.3 ms, and every `every`-th wake-up `stall` more (a busy machine).
std::vector<TimePoint> simulate(double rate, Pacer::Duration span, int every = 997,
                                Pacer::Duration stall = 15ms) {
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
        t += wait + jitter + (wake % every == 0 ? stall : 0ms);
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

TEST_CASE("schedule: 1/rate apart; up to 100 ms of being late is made up for") {
    Pacer p;
    p.set_rate(4);  // 250 ms apart
    CHECK(p.may_start(t0));
    CHECK(start_at(p, 0ms) == 250ms);
    CHECK_FALSE(p.may_start(t0 + 249ms));
    CHECK(p.may_start(t0 + 250ms));
    CHECK(start_at(p, 260ms) == 500ms);   // 10 ms late: the next keeps its place
    CHECK(start_at(p, 600ms) == 750ms);   // 100 ms late: still
    CHECK(start_at(p, 950ms) == 1100ms);  // 200 ms late: the next 100 ms sooner
}

TEST_CASE("catching up: at 100 per second, 40 ms late lets four more start at once") {
    Pacer p;
    p.set_rate(100);
    CHECK(start_at(p, 0ms) == 10ms);
    int at_once = 0;
    while (p.may_start(t0 + 50ms)) {
        p.started(t0 + 50ms);
        ++at_once;
    }
    CHECK(at_once == 5);  // those due at 10, 20, 30, 40 and 50 ms
    CHECK(p.next_start() - t0 == 60ms);
}

TEST_CASE("idle: time with nothing to send is not made up for") {
    Pacer p;
    p.set_rate(4);
    CHECK(start_at(p, 0ms) == 250ms);
    SUBCASE("told") {
        p.idle(t0 + 5s);
        CHECK(start_at(p, 5s) == 5250ms);
    }
    SUBCASE("not told: taken for a sender held up, 100 ms of it made up for") {
        CHECK(start_at(p, 5s) == 5150ms);
    }
    SUBCASE("idle before the next start is due changes nothing") {
        p.idle(t0 + 100ms);
        CHECK(p.next_start() - t0 == 250ms);
    }
}

TEST_CASE("window: never more than N starts in N/rate seconds") {
    SUBCASE("a whole rate: at most the rate in any second") {
        Pacer p;
        p.set_rate(4);
        CHECK(start_at(p, 0ms) == 250ms);
        CHECK(start_at(p, 300ms) == 500ms);  // 50 ms late, made up for by the schedule...
        CHECK(start_at(p, 500ms) == 750ms);
        CHECK(start_at(p, 750ms) == 1000ms);
        CHECK(start_at(p, 1000ms) == 1300ms);  // ...but the window is 300 ms + 1 s
        CHECK(start_at(p, 1300ms) == 1500ms);  // 50 ms late again: made up for
    }
    SUBCASE("catching up never beats the window") {
        Pacer p;
        p.set_rate(10);
        CHECK(start_at(p, 0ms) == 100ms);
        CHECK(start_at(p, 190ms) == 200ms);  // 90 ms late: made up for
        for (auto t = 200ms; t <= 900ms; t += 100ms) p.started(t0 + t);
        CHECK(p.next_start() - t0 == 1000ms);
        // The schedule says 1.1 s; the window, a second after the start at 190 ms.
        CHECK(start_at(p, 1000ms) == 1190ms);
    }
    SUBCASE("2.5 per second: 3 in any 1.2 s") {
        Pacer p;
        p.set_rate(2.5);  // 400 ms apart
        CHECK(start_at(p, 0ms) == 400ms);
        CHECK(start_at(p, 490ms) == 800ms);
        CHECK(start_at(p, 800ms) == 1200ms);
        CHECK(start_at(p, 1200ms) == 1690ms);  // 490 ms + 1.2 s
    }
    SUBCASE("under 1 per second: one per 1/rate, late or not") {
        Pacer p;
        p.set_rate(0.5);
        CHECK(start_at(p, 0ms) == 2s);
        CHECK(start_at(p, 2300ms) == 4300ms);  // the schedule alone would say 4.2 s
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

TEST_CASE("a rate too small to count in nanoseconds waits 10^9 s") {
    Pacer p;
    p.set_rate(1e-12);  // the config allows any rate from 0 to 10000
    CHECK(start_at(p, 0ms) == std::chrono::seconds(1000000000));
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

TEST_CASE("simulated dispatcher: the long-run rate within 1 %, never more than the rate") {
    struct Load {
        const char* name;
        int every;
        Pacer::Duration stall;
    };
    for (auto load :
         {Load{"15 ms stalls now and then", 997, 15ms}, Load{"50 ms stalls often", 53, 50ms}}) {
        for (double rate : {0.5, 1.0, 2.0, 2.5, 5.0, 20.0, 100.0, 300.0, 1000.0}) {
            CAPTURE(load.name);
            CAPTURE(rate);
            auto starts = simulate(rate, 120s, load.every, load.stall);
            REQUIRE(starts.size() > 50);
            double span = std::chrono::duration<double>(starts.back() - starts.front()).count();
            double achieved = static_cast<double>(starts.size() - 1) / span;
            CAPTURE(achieved);
            // Under 1 per second nothing is made up for; the stalls cost what they last.
            CHECK(std::abs(achieved - rate) / rate < (rate < 1 ? 0.03 : 0.01));
            CHECK(achieved <= rate * (1 + 1e-9));
            auto interval = std::chrono::duration<double>(1.0 / rate);
            Pacer::Duration min_gap = Pacer::Duration::max();
            for (std::size_t i = 1; i < starts.size(); ++i)
                min_gap = std::min(min_gap, starts[i] - starts[i - 1]);
            if (rate >= 1) {
                CHECK(most_within(starts, 1s) <= static_cast<std::size_t>(std::ceil(rate)));
                if (interval > 100ms)
                    CHECK(std::chrono::duration<double>(min_gap) >= interval - 100ms);
            } else {
                CHECK(std::chrono::duration<double>(min_gap) >= interval * (1 - 1e-9));
            }
        }
    }
}
