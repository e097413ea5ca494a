// The rate limits and storm windows as `render` shows them: counted from the outbox in the
// state directory, read only, as the daemon would count them now (it also counts the
// messages it is receiving at the moment).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shared/config/config.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/rate_limit.h"
#include "shared/policy/reply.h"

namespace smsm {

struct LimitsVerdict {
    std::optional<Reply> refused;    // 450 4.7.1 when a limit is reached
    std::vector<std::string> lines;  // for the text output
    nlohmann::json json;             // for --json
};

class RenderLimits {
  public:
    explicit RenderLimits(const Config& cfg);
    // One recipient: the numbers it texts, with the message's SMS text. Recipients checked
    // one after another count against the limits like the recipients of one message.
    LimitsVerdict check(const std::string& sender, const std::vector<std::string>& numbers,
                        const std::string& text);

  private:
    const Config& cfg_;
    std::optional<LimitsSnapshot> snapshot_;
    RateLimiter limits_;
    std::int64_t now_;
    std::set<std::string> reserved_;  // numbers texted by the recipients so far
};

}  // namespace smsm
