// render's view of the rate limits and storm windows; see render_limits.h.
#include "milter/render_limits.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "shared/base/clock.h"
#include "shared/base/strings.h"
#include "shared/session/session.h"

namespace smsm {

namespace {

std::string clock_time(std::int64_t unix_seconds) {
    return utc_time(unix_seconds, /*time_only=*/true);
}

}  // namespace

RenderLimits::RenderLimits(const Config& cfg) : cfg_(cfg), now_(unix_now()) {
    snapshot_ = read_limits_snapshot(cfg.state_directory, now_ - RateLimiter::kLongestPeriod);
    if (snapshot_)
        for (const auto& c : snapshot_->counted) limits_.add_past(c.at, c.sender, c.number);
}

LimitsVerdict RenderLimits::check(const std::string& sender,
                                  const std::vector<std::string>& numbers,
                                  const std::string& text) {
    LimitsVerdict v;
    v.json = nlohmann::json::object();
    std::string from_zero = snapshot_ ? ""
                                      : fmt::format(" (no readable outbox in {}: counted from 0)",
                                                    cfg_.state_directory);
    for (const auto& number : numbers) {
        std::string line;
        auto& counters = v.json["limits"][number] = nlohmann::json::array();
        for (const auto& s : limits_.standing_of(cfg_, sender, number, now_)) {
            line += fmt::format("{}{} {} of {}", line.empty() ? "" : ", ", limit_key_name(s.kind),
                                s.used, s.limit.str());
            counters.push_back(
                {{"limit", limit_key_name(s.kind)}, {"used", s.used}, {"of", s.limit.str()}});
        }
        v.lines.push_back(fmt::format("rate limits for {}{}: {}", number, from_zero,
                                      line.empty() ? "none" : line));
    }
    std::vector<std::string> fresh;  // a number texted already costs nothing more
    for (const auto& number : numbers)
        if (reserved_.insert(number).second) fresh.push_back(number);
    if (auto hit = limits_.reserve(cfg_, sender, fresh, now_)) {
        for (const auto& number : fresh) reserved_.erase(number);
        v.refused = replies::rate_limited(limit_key_name(hit->kind), hit->limit.str());
        return v;
    }
    if (cfg_.storm_window.count() == 0) {
        v.lines.push_back("storm_window: off");
        return v;
    }
    std::string bare = rate_sender_key(sender);
    for (const auto& number : numbers) {
        std::string key = storm_key(bare, number, text);
        const OpenStorm* open = nullptr;
        if (snapshot_)
            for (const auto& s : snapshot_->storms)
                if (s.key == key) open = &s;
        auto& storm = v.json["storm"][number];
        if (open) {
            storm = {{"held_back", true},
                     {"first_job", open->first_job},
                     {"held", open->held},
                     {"closes", open->closes}};
            v.lines.push_back(fmt::format(
                "storm_window for {}: held back, the same alert was texted as job {} ({} held "
                "back so far; their summary goes out at {})",
                number, open->first_job, open->held, clock_time(open->closes)));
        } else {
            storm = {{"held_back", false}};
            v.lines.push_back(fmt::format(
                "storm_window for {}: texted; the same alert again within {}s would be held back",
                number, cfg_.storm_window.count()));
        }
    }
    return v;
}

}  // namespace smsm
