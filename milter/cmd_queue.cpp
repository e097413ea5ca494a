// `sms-milter queue [-c FILE] list|show ID|retry ID|drop ID|stats`: inspect and act on the
// outbox. Safe while the daemon runs: SQLite (WAL) serialises the writers, and a job that is
// being sent right now cannot be dropped. Numbers are masked unless log_full_numbers = yes.
#include <fmt/format.h>

#include <charconv>
#include <ctime>

#include "milter/commands.h"
#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/delivery/outbox.h"

namespace smsm {

namespace {

constexpr std::size_t kListLimit = 1000;

std::string when(std::int64_t unix_seconds) {
    if (unix_seconds <= 0) return "-";
    std::time_t t = unix_seconds;
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool parse_id(const std::string& s, std::int64_t& id) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    return ec == std::errc{} && end == s.data() + s.size() && id > 0;
}

void show(const Job& j) {
    fmt::print(
        "id:           {}\nstate:        {}\nqueue id:     {}\nfrom:         <{}>\nrcpt:         "
        "{}\n"
        "number:       {}\nattempts:     {}\ncreated:      {}\nnext attempt: {}\nexpires:      {}\n"
        "check first:  {}\ntwilio sid:   {}\nlast error:   {}\ntext:\n    {}\n",
        j.id, j.state, printable(j.queue_id), printable(j.sender), log::address(j.rcpt),
        log::number(j.number), j.attempts, when(j.created),
        j.state == "queued" || j.state == "deferred" ? when(j.next_attempt) : "-", when(j.expires),
        j.check_first ? "yes (Twilio is asked before any resend)" : "no",
        j.sid.empty() ? "-" : j.sid, j.last_error.empty() ? "-" : printable(j.last_error, 1000),
        display_text(j.body, 2000, "    "));
}

}  // namespace

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
            fmt::print("{:>8}  {:<8}  {:>3}  {:<20}  {:<14}  {:<12}  {}\n", "ID", "STATE", "TRY",
                       "NEXT ATTEMPT", "TO", "QUEUE-ID", "LAST ERROR");
            for (const auto& j : jobs)
                fmt::print(
                    "{:>8}  {:<8}  {:>3}  {:<20}  {:<14}  {:<12}  {}\n", j.id, j.state, j.attempts,
                    j.state == "queued" || j.state == "deferred" ? when(j.next_attempt) : "-",
                    log::number(j.number), printable(j.queue_id, 12), printable(j.last_error, 60));
            if (jobs.size() == kListLimit) fmt::print("(the newest {} jobs)\n", kListLimit);
        } else if (action == "stats") {
            for (const auto& [state, n] : outbox.count_by_state())
                fmt::print("{:<9} {}\n", state, n);
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
