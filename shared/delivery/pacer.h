// Pacing of Twilio create requests (twilio_send_rate): when the next one may start. Two rules:
//  - schedule: starts come 1/rate apart. A start that came late (the sender's thread wakes up
//    to a millisecond after its time, and a busy machine or a slow disk hold it up longer)
//    lets the next ones come as much sooner, up to 100 ms of being behind, so that the rate
//    holds. Time with nothing to send is not made up for (idle()): no burst after a quiet
//    spell.
//  - window: at most N starts in any N/rate seconds, N being the rate rounded up: for a whole
//    rate, never more than the rate in any second, however late the schedule; under 1 per
//    second, never less than 1/rate apart.
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
    // How many may start from now to now + ahead, 1/rate apart: how many jobs are worth
    // claiming now. Unpaced: as many as wanted.
    std::size_t starts_within(TimePoint now, Duration ahead) const;
    // A request started at `now`.
    void started(TimePoint now);
    // Nothing waited to start until `now`: that time is not made up for.
    void idle(TimePoint now);

  private:
    double rate_ = 0;
    Duration interval_{};           // 1 / rate
    Duration window_{};             // per_window_ / rate
    std::size_t per_window_ = 0;    // the rate rounded up, at least 1
    TimePoint due_{};               // the next start by the schedule
    std::deque<TimePoint> recent_;  // the last per_window_ starts
};

}  // namespace smsm
