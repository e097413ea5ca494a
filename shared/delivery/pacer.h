// Pacing of Twilio create requests (twilio_send_rate): when the next one may start. Two rules:
//  - spacing: starts come about 1/rate apart. A start that came a little late (by at most a
//    quarter of that or 2 ms, as when the sender's thread wakes a millisecond after its time)
//    lets the next one come as much earlier, so that the rate holds: up to 125 per second,
//    two starts are never less than three quarters of 1/rate apart. A start later than that
//    (or after a pause) lets nothing come earlier: no burst after an idle spell.
//  - window: at most N starts in any N/rate seconds, N being the rate rounded up: for a whole
//    rate, never more than the rate in any second (for a rate under 1, one per 1/rate).
// Times are passed in (steady clock), so that the arithmetic is tested without a clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace smsm {

class Pacer {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using Duration = std::chrono::steady_clock::duration;

    // Create requests per second; 0: no pacing. A new rate applies from the next start on,
    // counting the starts already made.
    void set_rate(double per_second);
    double rate() const { return rate_; }
    bool paced() const { return rate_ > 0; }

    // The earliest time the next request may start (in the past when one may start now).
    TimePoint next_start() const;
    bool may_start(TimePoint now) const { return !paced() || now >= next_start(); }
    // How many may start from now to now + ahead, each on time (by the spacing rule alone):
    // how many jobs are worth claiming now. Unpaced: as many as wanted.
    std::size_t starts_within(TimePoint now, Duration ahead) const;
    // A request started at `now`.
    void started(TimePoint now);

  private:
    double rate_ = 0;
    Duration interval_{};           // 1 / rate
    Duration slack_{};              // how late a start may be and still be made up for
    Duration window_{};             // per_window_ / rate
    std::size_t per_window_ = 0;    // the rate rounded up, at least 1
    TimePoint due_{};               // the next start by the spacing rule
    std::deque<TimePoint> recent_;  // the last per_window_ starts
};

}  // namespace smsm
