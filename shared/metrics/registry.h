// Lock-cheap metric primitives for the Prometheus endpoint: counters are relaxed atomics,
// labels are fixed enums (one atomic per value) or, for values known only at run time (a
// Twilio status and error code), a small bounded map behind a mutex; histograms have fixed
// buckets. Nothing here allocates on the counting path except CounterMap's first sight of a
// key. Values live for the process (Prometheus counters restart at 0 with it).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace smsm::metrics {

class Counter {
  public:
    void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> v_{0};
};

// One counter per value of a small enum (index 0..N-1).
template <std::size_t N>
class CounterArray {
  public:
    void add(std::size_t i, std::uint64_t n = 1) {
        if (i < N) c_[i].add(n);
    }
    std::uint64_t value(std::size_t i) const { return i < N ? c_[i].value() : 0; }

  private:
    std::array<Counter, N> c_;
};

// Counters by a key known only at run time, at most `max_keys` distinct ones: past that,
// every new key is counted under `overflow_key`, so a misbehaving peer cannot grow it.
class CounterMap {
  public:
    CounterMap(std::size_t max_keys, std::string overflow_key);
    void add(const std::string& key, std::uint64_t n = 1);
    std::map<std::string, std::uint64_t> snapshot() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> counts_;
    std::size_t max_keys_;
    std::string overflow_key_;
};

// A histogram with fixed upper bounds (seconds, ascending; +Inf is implicit).
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);

    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (= count)
        double sum = 0;
    };
    Snapshot snapshot() const;

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
    std::atomic<double> sum_{0};
};

}  // namespace smsm::metrics
