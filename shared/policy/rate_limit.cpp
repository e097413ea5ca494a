// Sliding-window counters for the rate limits. One mutex guards them all: each call is a
// few map lookups, and the windows never hold more than the limits allow.
#include "shared/policy/rate_limit.h"

#include <algorithm>

#include "shared/policy/address.h"

namespace smsm {

namespace {
constexpr std::int64_t kSweepEvery = 60;  // seconds between sweeps of idle counters
}  // namespace

const char* limit_key_name(LimitKind k) {
    switch (k) {
        case LimitKind::Sender:
            return "sender_rate_limit";
        case LimitKind::Destination:
            return "destination_rate_limit";
        case LimitKind::Global:
            return "global_rate_limit";
    }
    return "?";
}

std::string rate_sender_key(std::string_view sender) {
    return bare_address(sender);
}

std::uint32_t RateLimiter::Window::used(const RateLimit& limit, std::int64_t now) {
    while (!times.empty() && times.front() <= now - limit.period.count()) times.pop_front();
    return static_cast<std::uint32_t>(times.size()) + reserved;
}

void RateLimiter::add_past(std::int64_t at, std::string_view sender, std::string_view number) {
    std::lock_guard lock(mutex_);
    senders_[rate_sender_key(sender)].times.push_back(at);
    numbers_[std::string(number)].times.push_back(at);
    global_.times.push_back(at);
}

void RateLimiter::forget_idle(Windows& windows, std::int64_t horizon) {
    for (auto it = windows.begin(); it != windows.end();) {
        auto& w = it->second;
        while (!w.times.empty() && w.times.front() <= horizon) w.times.pop_front();
        it = w.times.empty() && w.reserved == 0 ? windows.erase(it) : std::next(it);
    }
}

std::optional<LimitHit> RateLimiter::reserve(const Config& cfg, std::string_view sender,
                                             const std::vector<std::string>& numbers,
                                             std::int64_t now) {
    std::lock_guard lock(mutex_);
    if (now - last_sweep_ >= kSweepEvery) {
        forget_idle(senders_, now - cfg.sender_rate_limit.period.count());
        forget_idle(numbers_, now - cfg.destination_rate_limit.period.count());
        auto& times = global_.times;
        while (!times.empty() && times.front() <= now - cfg.global_rate_limit.period.count())
            times.pop_front();
        last_sweep_ = now;
    }
    const auto n = static_cast<std::uint32_t>(numbers.size());
    const RateLimit& g = cfg.global_rate_limit;
    if (g.on() && global_.used(g, now) + n > g.count) return LimitHit{LimitKind::Global, g};
    const RateLimit& s = cfg.sender_rate_limit;
    std::string key = rate_sender_key(sender);
    if (s.on() && senders_[key].used(s, now) + n > s.count) return LimitHit{LimitKind::Sender, s};
    const RateLimit& d = cfg.destination_rate_limit;
    if (d.on()) {
        for (const auto& number : numbers) {
            auto same =
                static_cast<std::uint32_t>(std::count(numbers.begin(), numbers.end(), number));
            if (numbers_[number].used(d, now) + same > d.count)
                return LimitHit{LimitKind::Destination, d};
        }
    }
    global_.reserved += n;
    senders_[key].reserved += n;
    for (const auto& number : numbers) ++numbers_[number].reserved;
    return std::nullopt;
}

void RateLimiter::commit(std::string_view sender, std::string_view number, std::int64_t now) {
    std::lock_guard lock(mutex_);
    for (Window* w :
         {&global_, &senders_[rate_sender_key(sender)], &numbers_[std::string(number)]}) {
        if (w->reserved > 0) --w->reserved;
        w->times.push_back(now);
    }
}

void RateLimiter::release(std::string_view sender, std::string_view number) {
    std::lock_guard lock(mutex_);
    for (Window* w : {&global_, &senders_[rate_sender_key(sender)], &numbers_[std::string(number)]})
        if (w->reserved > 0) --w->reserved;
}

std::vector<RateStanding> RateLimiter::standings(const Config& cfg, std::int64_t now,
                                                 std::size_t top) {
    std::lock_guard lock(mutex_);
    std::vector<RateStanding> out;
    if (cfg.global_rate_limit.on())
        out.push_back({LimitKind::Global, "", global_.used(cfg.global_rate_limit, now),
                       cfg.global_rate_limit});
    auto add = [&](LimitKind kind, Windows& windows, const RateLimit& limit) {
        if (!limit.on()) return;
        std::vector<RateStanding> some;
        for (auto& [key, w] : windows)
            if (std::uint32_t used = w.used(limit, now); used > 0)
                some.push_back({kind, key, used, limit});
        std::sort(some.begin(), some.end(), [](const RateStanding& a, const RateStanding& b) {
            return a.used != b.used ? a.used > b.used : a.key < b.key;
        });
        if (some.size() > top) some.resize(top);
        out.insert(out.end(), some.begin(), some.end());
    };
    add(LimitKind::Sender, senders_, cfg.sender_rate_limit);
    add(LimitKind::Destination, numbers_, cfg.destination_rate_limit);
    return out;
}

std::vector<RateStanding> RateLimiter::standing_of(const Config& cfg, std::string_view sender,
                                                   std::string_view number, std::int64_t now) {
    std::lock_guard lock(mutex_);
    std::vector<RateStanding> out;
    std::string key = rate_sender_key(sender);
    auto used = [&](Windows& windows, const std::string& k, const RateLimit& limit) {
        auto it = windows.find(k);
        return it == windows.end() ? 0u : it->second.used(limit, now);
    };
    if (cfg.sender_rate_limit.on())
        out.push_back({LimitKind::Sender, key, used(senders_, key, cfg.sender_rate_limit),
                       cfg.sender_rate_limit});
    if (cfg.destination_rate_limit.on())
        out.push_back({LimitKind::Destination, std::string(number),
                       used(numbers_, std::string(number), cfg.destination_rate_limit),
                       cfg.destination_rate_limit});
    if (cfg.global_rate_limit.on())
        out.push_back({LimitKind::Global, "", global_.used(cfg.global_rate_limit, now),
                       cfg.global_rate_limit});
    return out;
}

}  // namespace smsm
