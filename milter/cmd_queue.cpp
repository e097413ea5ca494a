// `sms-milter queue [-c FILE] list|show ID|retry ID|drop ID|stats`: inspect and act on the
// outbox. Safe while the daemon runs: SQLite (WAL) serialises the writers, and a job that is
// being sent right now cannot be dropped. Numbers are masked unless log_full_numbers = yes.
#include <fmt/format.h>

#include <charconv>
#include <ctime>

#include "milter/commands.h"
#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/base/mask.h"
#include "shared/base/strings.h"
#include "shared/config_load/load_config.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/rate_limit.h"
#include "shared/twilio/twilio_errors.h"

namespace smsm {

namespace {

constexpr std::size_t kListLimit = 1000;

std::string when(std::int64_t unix_seconds) {
    return unix_seconds <= 0 ? "-" : utc_time(unix_seconds);
}

bool parse_id(const std::string& s, std::int64_t& id) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    return ec == std::errc{} && end == s.data() + s.size() && id > 0;
}

// The delivery status column of `queue list`: Twilio's final status (with its error code),
// "polling" while it is followed, "-" when it never was.
std::string delivery_column(const Job& j) {
    if (j.next_poll > 0) return j.status.empty() ? "polling" : "polling:" + printable(j.status, 12);
    if (j.status.empty()) return "-";
    return j.status_code ? fmt::format("{}:{}", printable(j.status, 12), j.status_code)
                         : printable(j.status, 16);
}

// `queue show`: the delivery status lines (SPEC §9).
std::string delivery_lines(const Job& j) {
    std::string status = j.status.empty() ? "-" : printable(j.status, 32);
    if (j.status_code) status += " (" + printable(twilio_error_text(j.status_code), 200) + ")";
    if (j.next_poll > 0)
        status += fmt::format(", polled {} time(s), next poll {}", j.polls, when(j.next_poll));
    else if (j.polls > 0)
        status += fmt::format(", polled {} time(s)", j.polls);
    return fmt::format("sent at:      {}\ndelivery:     {}\nsent from:    {}\nmessage id:   {}\n",
                       when(j.sent_at), status,
                       j.sent_from.empty() ? "-" : log::number(j.sent_from),
                       j.message_id.empty() ? "-" : printable(j.message_id, 250));
}

// `queue stats`: what became of the SMS sent and of the replies, since the outbox was made.
void print_delivery_counters(Outbox& outbox) {
    auto c = outbox.counters();
    auto n = [&](const char* k) { return c.count(k) ? c[k] : 0; };
    fmt::print("\ndelivery status (since the outbox was made):\n");
    fmt::print("  {:<18} {}\n  {:<18} {}\n  {:<18} {}\n  {:<18} {}\n", "delivered", n("delivered"),
               "undelivered", n("undelivered"), "failed", n("failed"), "unknown",
               n("status_unknown"));
    fmt::print("replies:\n  {:<18} {}\n  {:<18} {}\n", "forwarded", n("replies_forwarded"),
               "dropped", n("replies_dropped"));
}

void show(const Job& j) {
    fmt::print(
        "id:           {}\nstate:        {}\nqueue id:     {}\nfrom:         <{}>\nrcpt:         "
        "{}\n"
        "number:       {}\nattempts:     {}\ncreated:      {}\nnext attempt: {}\nexpires:      {}\n"
        "check first:  {}\ntwilio sid:   {}\nlast error:   {}\n{}text:\n    {}\n",
        j.id, state_name(j.state), printable(j.queue_id), printable(j.sender), log::address(j.rcpt),
        log::number(j.number), j.attempts, when(j.created),
        j.state == JobState::Queued || j.state == JobState::Deferred ? when(j.next_attempt) : "-",
        when(j.expires), j.check_first ? "yes (Twilio is asked before any resend)" : "no",
        j.sid.empty() ? "-" : j.sid,
        j.last_error.empty() ? "-" : printable(mask_numbers_in_text(j.last_error), 1000),
        delivery_lines(j), display_text(j.body, 2000, "    "));
}

// Where the rate limits and storm windows stand, from the outbox (the daemon also counts the
// messages it is receiving right now).
void print_limits(const Config& cfg, Outbox& outbox) {
    RateLimiter limits;
    load_rate_counts(outbox, limits);
    auto now = unix_now();
    fmt::print("\nrate limits (SMS counted within each period; the fullest 10 of each kind):\n");
    for (auto kind : {LimitKind::Global, LimitKind::Sender, LimitKind::Destination}) {
        const RateLimit& limit = kind == LimitKind::Global   ? cfg.global_rate_limit
                                 : kind == LimitKind::Sender ? cfg.sender_rate_limit
                                                             : cfg.destination_rate_limit;
        if (!limit.on()) fmt::print("  {:<23} none\n", limit_key_name(kind));
    }
    for (const auto& s : limits.standings(cfg, now, 10)) {
        std::string who = s.kind == LimitKind::Global ? "all SMS"
                          : s.kind == LimitKind::Destination
                              ? log::number(s.key)
                              : fmt::format("<{}>", printable(s.key));
        fmt::print("  {:<23} {:<30} {} of {}\n", limit_key_name(s.kind), who, s.used,
                   s.limit.str());
    }
    auto storms = outbox.storm_counts();
    fmt::print("\nstorm windows open: {} (alerts held back for their summaries: {})\n", storms.open,
               storms.held);
}

}  // namespace

void load_rate_counts(Outbox& outbox, RateLimiter& limits) {
    auto now = unix_now();
    for (const auto& c : outbox.counted_since(now - RateLimiter::kLongestPeriod))
        limits.add_past(c.at, c.sender, c.number);
}

int cmd_queue(const Args& argv) {
    Args args = argv;
    std::string path = take_config_option(args);
    std::string action = args.empty() ? "" : args[0];
    std::int64_t id = 0;
    bool needs_id = action == "show" || action == "retry" || action == "drop";
    if (!(action == "list" || action == "stats" || needs_id) ||
        args.size() != (needs_id ? 2u : 1u) || (needs_id && !parse_id(args[1], id))) {
        fmt::print(
            stderr,
            "usage: sms-milter queue [-c FILE] list | show ID | retry ID | drop ID | stats\n");
        return 2;
    }
    ConfigLoad load = load_config(path, /*skip_secrets=*/true);
    for (const auto& e : load.errors) fmt::print(stderr, "{}\n", e);
    if (!load.config) return 1;
    log::init(LogTo::Nowhere, load.config->log_full_numbers);
    try {
        Outbox outbox(load.config->state_directory);
        if (action == "list") {
            auto jobs = outbox.list(kListLimit);
            fmt::print("{:>8}  {:<8}  {:>3}  {:<20}  {:<14}  {:<12}  {:<17}  {}\n", "ID", "STATE",
                       "TRY", "NEXT ATTEMPT", "TO", "QUEUE-ID", "DELIVERY", "LAST ERROR");
            for (const auto& j : jobs)
                fmt::print("{:>8}  {:<8}  {:>3}  {:<20}  {:<14}  {:<12}  {:<17}  {}\n", j.id,
                           state_name(j.state), j.attempts,
                           j.state == JobState::Queued || j.state == JobState::Deferred
                               ? when(j.next_attempt)
                               : "-",
                           log::number(j.number), printable(j.queue_id, 12), delivery_column(j),
                           printable(mask_numbers_in_text(j.last_error), 60));
            if (jobs.size() == kListLimit) fmt::print("(the newest {} jobs)\n", kListLimit);
        } else if (action == "stats") {
            for (const auto& [state, n] : outbox.count_by_state())
                fmt::print("{:<9} {}\n", state, n);
            print_limits(*load.config, outbox);
            print_delivery_counters(outbox);
        } else if (action == "show") {
            auto job = outbox.get(id);
            if (!job) {
                fmt::print(stderr, "sms-milter queue: no job {}\n", id);
                return 1;
            }
            show(*job);
        } else if (action == "retry") {
            if (!outbox.retry_now(id)) {
                fmt::print(stderr, "sms-milter queue: job {} is not deferred or failed\n", id);
                return 1;
            }
            fmt::print("job {}: due now\n", id);
        } else if (!outbox.drop(id)) {
            fmt::print(stderr, "sms-milter queue: no job {}, or it is being sent right now\n", id);
            return 1;
        } else {
            fmt::print("job {}: dropped\n", id);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "sms-milter queue: {}\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace smsm
