// Rate limits at RCPT (SPEC §4, §5): SMS per envelope sender, per destination number and in
// total, each over a sliding window (`N/PERIOD`). RCPT reserves one SMS per number, all or
// none; end of message commits the SMS that were queued and releases the rest (duplicates,
// storm-suppressed, failed messages). Committed SMS are also written to the outbox
// (`rate_events`), which is what the counts are loaded from after a restart.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/config/config.h"

namespace smsm {

enum class LimitKind { Sender, Destination, Global };

const char* limit_key_name(LimitKind k);  // "sender_rate_limit", ...

// The limit that refused an SMS.
struct LimitHit {
    LimitKind kind;
    RateLimit limit;
};

// Where one counter stands, for `sms-milter queue stats` and `render`.
struct RateStanding {
    LimitKind kind;
    std::string key;         // the sender or number; empty for the global counter
    std::uint32_t used = 0;  // SMS counted within the period, reservations included
    RateLimit limit;
};

class RateLimiter {
  public:
    // Longest period a rate limit may have: what to load after a restart.
    static constexpr std::int64_t kLongestPeriod = 7 * 86400;
    // One SMS counted before a restart (the outbox's rate_events), in time order.
    void add_past(std::int64_t at, std::string_view sender, std::string_view number);

    // Reserves one SMS from `sender` to each number, all or none: the limit that refuses,
    // or nothing when every one fits.
    std::optional<LimitHit> reserve(const Config& cfg, std::string_view sender,
                                    const std::vector<std::string>& numbers, std::int64_t now);
    // A reserved SMS was queued at `now`: it counts from now on, until its period has passed.
    void commit(std::string_view sender, std::string_view number, std::int64_t now);
    // A reserved SMS was not queued.
    void release(std::string_view sender, std::string_view number);

    // The global counter, then the senders and numbers with SMS counted, fullest first (at
    // most `top` of each).
    std::vector<RateStanding> standings(const Config& cfg, std::int64_t now, std::size_t top);
    // The counters one SMS from sender to number would meet.
    std::vector<RateStanding> standing_of(const Config& cfg, std::string_view sender,
                                          std::string_view number, std::int64_t now);

  private:
    struct Window {
        std::deque<std::int64_t> times;  // committed SMS, oldest first
        std::uint32_t reserved = 0;      // reserved at RCPT, not yet committed or released
        std::uint32_t used(const RateLimit& limit, std::int64_t now);
    };
    using Windows = std::unordered_map<std::string, Window>;
    static void forget_idle(Windows& windows, std::int64_t horizon);
    std::mutex mutex_;
    Windows senders_;
    Windows numbers_;
    Window global_;
    std::int64_t last_sweep_ = 0;
};

// The sender as the limits count it: bare and lowercased ("" for the null sender).
std::string rate_sender_key(std::string_view sender);

}  // namespace smsm
