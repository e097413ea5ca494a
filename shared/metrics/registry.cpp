// Lock-cheap metric primitives; see registry.h.
#include "shared/metrics/registry.h"

#include <algorithm>

namespace smsm::metrics {

CounterMap::CounterMap(std::size_t max_keys, std::string overflow_key)
    : max_keys_(max_keys), overflow_key_(std::move(overflow_key)) {}

void CounterMap::add(const std::string& key, std::uint64_t n) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(key);
    if (it == counts_.end() && counts_.size() >= max_keys_)
        it = counts_.try_emplace(overflow_key_, 0).first;
    else if (it == counts_.end())
        it = counts_.emplace(key, 0).first;
    it->second += n;
}

std::map<std::string, std::uint64_t> CounterMap::snapshot() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
    auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                      bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        total += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(total);
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

}  // namespace smsm::metrics
