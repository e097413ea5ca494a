// Pacing of Twilio create requests: the spacing and window rules of pacer.h.
#include "shared/delivery/pacer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace smsm {

namespace {
constexpr Pacer::Duration kMinSlack = std::chrono::milliseconds(2);

Pacer::Duration seconds(double s) {
    return std::chrono::duration_cast<Pacer::Duration>(std::chrono::duration<double>(s));
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
    // The sender wakes on whole milliseconds (curl_multi_poll): up to 1 ms late, so a
    // quarter of a few milliseconds would not make up for it at hundreds per second.
    slack_ = std::max<Duration>(interval_ / 4, kMinSlack);
    window_ = seconds(static_cast<double>(per_window_) / rate_);
    while (recent_.size() > per_window_) recent_.pop_front();
    due_ = recent_.empty() ? TimePoint{} : recent_.back() + interval_;
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
    // On time or a little late: the next keeps its place. Later (or a first start after a
    // pause): the next comes a whole interval after this one.
    due_ = (now - due_ <= slack_ ? due_ : now) + interval_;
    recent_.push_back(now);
    if (recent_.size() > per_window_) recent_.pop_front();
}

}  // namespace smsm
