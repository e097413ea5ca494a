// Pacing of Twilio create requests: the spacing and window rules of pacer.h.
#include "shared/delivery/pacer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace smsm {

namespace {
// Being behind the schedule by this much is made up for (a busy machine, an fsync, new TLS
// connections hold the sender up for tens of milliseconds); the window rule still holds.
constexpr Pacer::Duration kCatchUp = std::chrono::milliseconds(100);

// At most 10^9 s (a rate of 10^-9 per second): more nanoseconds would not fit.
Pacer::Duration seconds(double s) {
    return std::chrono::duration_cast<Pacer::Duration>(
        std::chrono::duration<double>(std::min(s, 1e9)));
}
}  // namespace

void Pacer::set_rate(double per_second) {
    if (per_second == rate_) return;
    rate_ = per_second > 0 ? per_second : 0;
    if (!paced()) {
        recent_.clear();
        due_ = {};
        return;
    }
    per_window_ = static_cast<std::size_t>(std::max(1.0, std::ceil(rate_)));
    interval_ = seconds(1.0 / rate_);
    window_ = seconds(static_cast<double>(per_window_) / rate_);
    while (recent_.size() > per_window_) recent_.pop_front();
    if (!recent_.empty()) due_ = recent_.back() + interval_;
}

Pacer::TimePoint Pacer::next_start() const {
    if (!paced()) return TimePoint{};
    auto next = due_;
    if (recent_.size() >= per_window_) next = std::max(next, recent_.front() + window_);
    return next;
}

std::size_t Pacer::starts_within(TimePoint now, Duration ahead) const {
    if (!paced()) return std::numeric_limits<std::size_t>::max();
    auto first = std::max(now, next_start());
    if (first > now + ahead) return 0;
    return 1 + static_cast<std::size_t>((now + ahead - first) / interval_);
}

void Pacer::started(TimePoint now) {
    if (!paced()) return;
    // Late by up to kCatchUp: the next keeps its place on the schedule (and may come at
    // once). Later: the schedule moves on, kCatchUp behind. The first start sets it.
    due_ = (recent_.empty() ? now : std::max(due_, now - kCatchUp)) + interval_;
    recent_.push_back(now);
    if (recent_.size() > per_window_) recent_.pop_front();
}

void Pacer::idle(TimePoint now) {
    if (paced() && due_ < now) due_ = now;
}

}  // namespace smsm
