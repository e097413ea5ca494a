// The subcommands of the sms-milter binary (SPEC §3).
#pragma once

#include <string>
#include <vector>

namespace smsm {

using Args = std::vector<std::string>;

int cmd_run(const Args& args);
int cmd_check(const Args& args);
int cmd_send(const Args& args);
int cmd_render(const Args& args);
int cmd_queue(const Args& args);

class Outbox;
class RateLimiter;
// The rate limits' counts as the outbox recorded them (after a restart, for queue stats).
void load_rate_counts(Outbox& outbox, RateLimiter& limits);

// Shared option handling: takes "-c FILE" out of args; returns the config path.
std::string take_config_option(Args& args);

}  // namespace smsm
