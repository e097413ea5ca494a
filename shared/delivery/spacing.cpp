// Spacing of create requests to one destination number (spacing.h).
#include "shared/delivery/spacing.h"

namespace smsm {

DestinationSpacing::TimePoint DestinationSpacing::next_start(const std::string& number) const {
    auto it = last_.find(number);
    return it == last_.end() ? TimePoint{} : it->second + gap_;
}

void DestinationSpacing::started(const std::string& number, TimePoint now) {
    // Forget numbers whose last start is a gap ago: they may start again anyway.
    while (!order_.empty() && order_.front().first + gap_ <= now) {
        auto it = last_.find(order_.front().second);
        if (it != last_.end() && it->second == order_.front().first) last_.erase(it);
        order_.pop_front();
    }
    last_[number] = now;
    order_.emplace_back(now, number);
}

}  // namespace smsm
