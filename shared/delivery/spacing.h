// Spacing of create requests to one destination number: at most one start per `gap`
// (1 s in the sender), so that an alert storm to one number stays within what Twilio
// accepts between one pair of numbers (more than 30 messages in 30 seconds fail later with
// 14107). Independent of twilio_send_rate, which paces all numbers together (pacer.h).
// Times are passed in (steady clock), so that the arithmetic is tested without a clock.
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace smsm {

class DestinationSpacing {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using Duration = std::chrono::steady_clock::duration;

    explicit DestinationSpacing(Duration gap) : gap_(gap) {}
    // A new gap applies from the next start on (0: no spacing).
    void set_gap(Duration gap) { gap_ = gap; }

    // The earliest time a request to `number` may start (in the past when it may now).
    TimePoint next_start(const std::string& number) const;
    bool may_start(const std::string& number, TimePoint now) const {
        return now >= next_start(number);
    }
    // A request to `number` started at `now`.
    void started(const std::string& number, TimePoint now);
    // Numbers remembered (those with a start within the last gap, and a few more).
    std::size_t size() const { return last_.size(); }

  private:
    Duration gap_;
    std::unordered_map<std::string, TimePoint> last_;      // the last start per number
    std::deque<std::pair<TimePoint, std::string>> order_;  // starts, oldest first
};

}  // namespace smsm
