// The declarative config table: every key with its default, validator and help text. It
// drives parsing, `sms-milter check` and `sms-milter help config`.
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>

#include "shared/base/strings.h"
#include "shared/base/syntax.h"
#include "shared/config/config.h"
#include "shared/config/config_file.h"
#include "shared/config/redis_url.h"
#include "shared/config/secret.h"
#include "shared/config_load/load_config.h"
#include "shared/metrics/listen_address.h"
#include "shared/policy/aliases.h"
#include "shared/policy/carrier_domains.h"
#include "shared/policy/phone.h"
#include "shared/policy/sender_rules.h"
#include "shared/text/message_text.h"

namespace smsm {

namespace {

using Setter = void (*)(Config&, std::string_view);

// When a changed value takes effect.
enum class Applies { OnReload, OnRestart };

struct KeyDef {
    std::string_view name;
    std::string_view type;  // what the value is, for `help config` and the man page
    Applies applies;
    std::string_view default_value;
    std::string_view help;
    Setter set;
};

[[noreturn]] void bad(std::string_view what) {
    throw std::invalid_argument(std::string(what));
}

// One of a few words: "expected a, b or c" otherwise.
template <typename T>
T parse_choice(std::string_view v, std::initializer_list<std::pair<std::string_view, T>> choices) {
    std::string names;
    std::size_t i = 0;
    for (const auto& [name, value] : choices) {
        if (v == name) return value;
        names += fmt::format("{}{}", i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ", name);
        ++i;
    }
    bad("expected " + names);
}

bool parse_bool(std::string_view v) {
    if (iequals(v, "yes")) return true;
    if (iequals(v, "no")) return false;
    bad("expected yes or no");
}

std::chrono::seconds parse_duration(std::string_view v, long min_s, long max_s) {
    long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    std::string_view unit(end, static_cast<std::size_t>(v.data() + v.size() - end));
    long mult = unit.empty() || unit == "s" ? 1
                : unit == "m"               ? 60
                : unit == "h"               ? 3600
                : unit == "d"               ? 86400
                : unit == "w"               ? 604800
                                            : 0;
    if (ec != std::errc{} || end == v.data() || mult == 0 || n < 0)
        bad("expected a time like 30s, 5m, 1h, 5d");
    if (n > max_s || n * mult > max_s || n * mult < min_s)
        bad(fmt::format("must be between {}s and {}s", min_s, max_s));
    return std::chrono::seconds(n * mult);
}

std::size_t parse_size(std::string_view v, std::size_t min, std::size_t max) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size()) bad("expected a number of bytes");
    if (n < min || n > max) bad(fmt::format("must be between {} and {}", min, max));
    return n;
}

// "N/PERIOD" (30/1h), or 0 or none for no limit.
RateLimit parse_rate_limit(std::string_view v) {
    if (v == "0" || v == "none") return {};
    auto slash = v.find('/');
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + (slash == v.npos ? 0 : slash), n);
    if (slash == v.npos || ec != std::errc{} || end != v.data() + slash || n == 0 || n > 1000000)
        bad("expected N/PERIOD like 30/1h (N from 1 to 1000000), or none");
    return {n, parse_duration(v.substr(slash + 1), 1, 7 * 86400)};
}

double parse_rate(std::string_view v, double max) {
    double d = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc{} || end != v.data() + v.size() || !(d >= 0 && d <= max))
        bad(fmt::format("expected a number from 0 to {}", max));
    return d;
}

// No std::regex on these values: see shared/base/syntax.h.
void require(bool ok, std::string_view what) {
    if (!ok) bad(what);
}

std::string absolute_path(std::string_view v) {
    if (v.empty() || v.front() != '/') bad("expected an absolute path");
    return std::string(v);
}

std::string region_code(std::string_view v) {
    std::string r(v);
    for (char& ch : r)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    if (!is_supported_region(r)) bad(fmt::format("unknown region code \"{}\"", printable(v)));
    return r;
}

const KeyDef kKeys[] = {
    {"milter_socket", "socket", Applies::OnRestart, "unix:/run/sms-milter/sms-milter.sock",
     "where the milter listens: unix:/path (mode 0660: the MTA's user must be in the "
     "daemon's group), or inet:PORT@HOST and inet6:PORT@HOST (unauthenticated: any local "
     "user could bypass the policy; a warning is logged)",
     [](Config& c, std::string_view v) {
         require(is_milter_socket_spec(v),
                 "expected inet:PORT@HOST, inet6:PORT@HOST or unix:/PATH");
         c.milter_socket = v;
     }},
    {"gateway_domains", "list of domains", Applies::OnReload, "",
     "recipient domains handled as SMS (required); DOMAIN:REGION reads national numbers "
     "of that domain in REGION instead of default_region",
     [](Config& c, std::string_view v) {
         c.gateway_domains.clear();
         for (auto& item : split_list(v)) {
             auto colon = item.find(':');
             std::string name = item.substr(0, colon);
             require(is_dns_name(name), "expected domain names, each optionally with :REGION");
             std::string region =
                 colon == std::string::npos ? "" : region_code(item.substr(colon + 1));
             c.gateway_domains.push_back({to_lower(name), region});
         }
     }},
    {"carrier_domains", "yes/no", Applies::OnReload, "no",
     "yes: also handle mail to the well-known carrier email-to-SMS domains (vtext.com, "
     "txt.att.net, ...; `sms-milter help carrier-domains` lists them) as SMS",
     [](Config& c, std::string_view v) { c.carrier_domains = parse_bool(v); }},
    {"default_region", "region", Applies::OnReload, "US",
     "ISO 3166 region for numbers not written in +E.164 form",
     [](Config& c, std::string_view v) { c.default_region = region_code(v); }},
    {"allowed_countries", "list of regions", Applies::OnReload, "",
     "ISO regions that may be texted; empty: the default_region only",
     [](Config& c, std::string_view v) {
         c.allowed_countries.clear();
         for (auto& r : split_list(v)) c.allowed_countries.push_back(region_code(r));
     }},
    {"allowed_number_types", "list of number types", Applies::OnReload,
     "fixed_line, mobile, fixed_line_or_mobile",
     "libphonenumber number types that may be texted: fixed_line, mobile, "
     "fixed_line_or_mobile (ordinary US and Canadian numbers), voip, toll_free, "
     "premium_rate, shared_cost, personal_number, pager, uan, voicemail",
     [](Config& c, std::string_view v) {
         c.allowed_number_types.clear();
         for (auto& name : split_list(v)) {
             auto t = number_type_from_name(to_lower(name));
             if (!t || *t == NumberType::Unknown)
                 bad(fmt::format("unknown number type \"{}\"", printable(name)));
             c.allowed_number_types.push_back(*t);
         }
         if (c.allowed_number_types.empty()) bad("expected at least one number type");
     }},
    {"aliases", "path", Applies::OnReload, "",
     "file of \"name: +E164, +E164, other-alias\" lines: name@gateway-domain texts every "
     "number (read at start and on SIGUSR1); empty: no aliases",
     [](Config& c, std::string_view v) { c.aliases_file = v.empty() ? "" : absolute_path(v); }},
    {"allowed_clients", "list of CIDRs", Applies::OnReload, "127.0.0.0/8, ::1",
     "CIDRs of SMTP clients allowed to send SMS",
     [](Config& c, std::string_view v) {
         c.allowed_clients.clear();
         for (auto& item : split_list(v)) {
             auto cidr = Cidr::parse(item);
             if (!cidr) bad(fmt::format("\"{}\" is not an address or CIDR", printable(item)));
             c.allowed_clients.push_back(*cidr);
         }
     }},
    {"allowed_senders", "list of addresses", Applies::OnReload, "",
     "envelope senders allowed to send SMS (user@domain, or @domain for a whole "
     "domain); empty: any",
     [](Config& c, std::string_view v) {
         c.allowed_senders.clear();
         for (auto& s : split_list(v)) {
             if (s.find('@') == std::string::npos || s.back() == '@')
                 bad(fmt::format("\"{}\" is not user@domain or @domain", printable(s)));
             c.allowed_senders.push_back(to_lower(s));
         }
     }},
    {"sender_rules", "path", Applies::OnReload, "",
     "file of \"sender-pattern  destination-pattern, ...\" lines: which numbers (+1415*) and "
     "aliases each envelope sender may text; the first matching line decides; empty: no rules",
     [](Config& c, std::string_view v) {
         c.sender_rules_file = v.empty() ? "" : absolute_path(v);
     }},
    {"require_sasl_auth", "yes/no", Applies::OnReload, "no",
     "yes: the SMTP session must be SASL-authenticated",
     [](Config& c, std::string_view v) { c.require_sasl_auth = parse_bool(v); }},
    {"local_submission", "yes/no", Applies::OnReload, "no",
     "yes: mail submitted on the MTA host itself (sendmail(1), Postfix pickup: no SMTP "
     "client) may text; no: its SMS recipients are refused at end of message",
     [](Config& c, std::string_view v) { c.local_submission = parse_bool(v); }},
    {"sender_rate_limit", "N/PERIOD", Applies::OnReload, "500/1h",
     "SMS allowed per envelope sender, as N/PERIOD (counted per number texted, kept in the "
     "state directory across restarts); past it RCPT gets 450 4.7.1; none: no limit",
     [](Config& c, std::string_view v) { c.sender_rate_limit = parse_rate_limit(v); }},
    {"destination_rate_limit", "N/PERIOD", Applies::OnReload, "60/1h",
     "SMS allowed per destination number, as N/PERIOD; past it RCPT gets 450 4.7.1; none: "
     "no limit",
     [](Config& c, std::string_view v) { c.destination_rate_limit = parse_rate_limit(v); }},
    {"global_rate_limit", "N/PERIOD", Applies::OnReload, "2000/1h",
     "SMS allowed in total, as N/PERIOD; past it RCPT gets 450 4.7.1; none: no limit",
     [](Config& c, std::string_view v) { c.global_rate_limit = parse_rate_limit(v); }},
    {"storm_window", "time", Applies::OnReload, "5m",
     "the same sender, number and text (numbers standing alone, such as counters, values, "
     "times and dates, ignored) again within this time of the first SMS is accepted but not "
     "sent; when the window closes one summary SMS says how many were held back; 0: off",
     [](Config& c, std::string_view v) { c.storm_window = parse_duration(v, 0, 86400); }},
    {"twilio_account_sid", "SID", Applies::OnReload, "",
     "Twilio account SID, AC followed by 32 hex digits (required)",
     [](Config& c, std::string_view v) {
         if (!v.empty())
             require(is_prefixed_hex(v, "AC", 32), "expected AC followed by 32 hex digits");
         c.twilio_account_sid = v;
     }},
    {"twilio_auth_token_file", "path", Applies::OnReload, "",
     "file holding the account's auth token (mode 0600)",
     [](Config& c, std::string_view v) {
         c.twilio_auth_token_file = v.empty() ? "" : absolute_path(v);
     }},
    {"twilio_api_key_sid", "SID", Applies::OnReload, "",
     "API key SID (SK...), used with twilio_api_key_secret_file",
     [](Config& c, std::string_view v) {
         if (!v.empty())
             require(is_prefixed_hex(v, "SK", 32), "expected SK followed by 32 hex digits");
         c.twilio_api_key_sid = v;
     }},
    {"twilio_api_key_secret_file", "path", Applies::OnReload, "",
     "file holding the API key secret (mode 0600)",
     [](Config& c, std::string_view v) {
         c.twilio_api_key_secret_file = v.empty() ? "" : absolute_path(v);
     }},
    {"twilio_from", "sender", Applies::OnReload, "",
     "sender: +E.164 number, short code or alphanumeric sender ID",
     [](Config& c, std::string_view v) {
         if (v.size() > 16) bad("too long");
         if (!v.empty())
             require(is_twilio_sender(v),
                     "expected +E.164, a short code or an alphanumeric sender ID");
         c.twilio_from = v;
     }},
    {"twilio_messaging_service_sid", "SID", Applies::OnReload, "",
     "Messaging Service SID (MG...), instead of twilio_from",
     [](Config& c, std::string_view v) {
         if (!v.empty())
             require(is_prefixed_hex(v, "MG", 32), "expected MG followed by 32 hex digits");
         c.twilio_messaging_service_sid = v;
     }},
    {"twilio_api_url", "URL", Applies::OnReload, "https://api.twilio.com",
     "API base URL, https://HOST[:PORT][/PATH] (regional edges, proxies, tests); https only, "
     "no user@",
     [](Config& c, std::string_view v) {
         // The credentials go wherever this points: no "user@" that would make
         // https://api.twilio.com@evil.example a URL of evil.example.
         if (auto problem = https_url_problem(v); !problem.empty())
             bad("expected https://HOST[:PORT][/PATH]: " + problem);
         c.twilio_api_url = v.back() == '/' ? v.substr(0, v.size() - 1) : v;
     }},
    {"twilio_ca_file", "path", Applies::OnReload, "",
     "extra CA bundle to trust besides the system store",
     [](Config& c, std::string_view v) { c.twilio_ca_file = v.empty() ? "" : absolute_path(v); }},
    {"twilio_timeout", "time", Applies::OnReload, "30s",
     "limit for one Twilio request, connection included",
     [](Config& c, std::string_view v) { c.twilio_timeout = parse_duration(v, 1, 300); }},
    {"state_directory", "path", Applies::OnRestart, "/var/lib/sms-milter", "outbox and dedup store",
     [](Config& c, std::string_view v) { c.state_directory = absolute_path(v); }},
    {"body_size_limit", "bytes", Applies::OnReload, "1048576",
     "bytes of the message (headers and body) kept for the SMS text; past it only the "
     "start of each later MIME part is kept",
     [](Config& c, std::string_view v) { c.body_size_limit = parse_size(v, 1024, 64u << 20); }},
    {"max_segments", "number", Applies::OnReload, "4",
     "longest SMS in segments; longer text is cut on a word with a visible \"...\"",
     [](Config& c, std::string_view v) {
         c.max_segments = static_cast<int>(parse_size(v, 1, 10));
     }},
    {"gsm_transliterate", "yes/no", Applies::OnReload, "yes",
     "yes: map look-alikes (curly quotes, dashes, ellipsis, odd spaces) to GSM-7 when "
     "that avoids UCS-2",
     [](Config& c, std::string_view v) { c.gsm_transliterate = parse_bool(v); }},
    {"sms_template", "text", Applies::OnReload, "",
     "layout of the SMS text with {subject} {body} {from} {from_name} {sender}, \\n "
     "for a newline; empty: subject, newline, body",
     [](Config& c, std::string_view v) {
         if (auto err = check_template(v); !err.empty()) bad(err);
         c.sms_template = v;
     }},
    {"body_cut_marker", "text", Applies::OnReload, "",
     "text that ends the SMS body where it appears (e.g. ##); empty: none",
     [](Config& c, std::string_view v) { c.body_cut_marker = v; }},
    {"minimal_backoff_time", "time", Applies::OnReload, "10s",
     "first retry delay after a temporary Twilio failure",
     [](Config& c, std::string_view v) { c.minimal_backoff_time = parse_duration(v, 1, 86400); }},
    {"maximal_backoff_time", "time", Applies::OnReload, "5m",
     "longest retry delay; the delay doubles up to it",
     [](Config& c, std::string_view v) { c.maximal_backoff_time = parse_duration(v, 1, 86400); }},
    {"max_queue_lifetime", "time", Applies::OnReload, "5d",
     "how long a job may wait for Twilio before it fails for good",
     [](Config& c, std::string_view v) {
         c.max_queue_lifetime = parse_duration(v, 60, 30 * 86400);
     }},
    {"duplicate_window", "time", Applies::OnReload, "1h",
     "how long an SMS is remembered by envelope sender, number, text, Message-ID and Date, "
     "so that a resubmitted message texts nobody twice; 0: off",
     [](Config& c, std::string_view v) { c.duplicate_window = parse_duration(v, 0, 7 * 86400); }},
    {"outbox_retention", "time", Applies::OnReload, "7d",
     "how long sent and failed jobs stay in the outbox for `sms-milter queue`",
     [](Config& c, std::string_view v) {
         c.outbox_retention = parse_duration(v, 3600, 365 * 86400);
     }},
    {"eom_wait", "time", Applies::OnReload, "0",
     "seconds end of message may wait for Twilio's first answer (0: reply once the SMS "
     "is queued); a permanent refusal of every SMS then becomes the SMTP reply",
     [](Config& c, std::string_view v) { c.eom_wait = parse_duration(v, 0, 240); }},
    {"send_concurrency", "number", Applies::OnReload, "16",
     "Twilio requests in flight at once, over kept-alive connections; about this many SMS per "
     "Twilio answer time go out (16 at 100 ms: up to 160 SMS/s)",
     [](Config& c, std::string_view v) {
         c.send_concurrency = static_cast<int>(parse_size(v, 1, 64));
     }},
    {"twilio_send_rate", "number", Applies::OnReload, "0",
     "most message create requests sent to Twilio per second, across all requests in flight "
     "(a long code takes about 1, toll-free 3, a short code 100); 0: no pacing",
     [](Config& c, std::string_view v) { c.twilio_send_rate = parse_rate(v, 10000); }},
    {"destination_rate_delay", "time", Applies::OnReload, "1s",
     "least time between two create requests to one number (Twilio fails more than 30 "
     "messages between one pair of numbers in 30 s with 14107); 0: no spacing",
     [](Config& c, std::string_view v) { c.destination_rate_delay = parse_duration(v, 0, 60); }},
    {"lookup_failure_action", "choice", Applies::OnReload, "defer",
     "when a job's outcome is uncertain and Twilio refuses to show its message list (or "
     "shows something unreadable): defer (look again later), resend (risk a duplicate) or "
     "fail; a throttled or failed lookup (429, 5xx, network) is always looked at again later",
     [](Config& c, std::string_view v) {
         c.lookup_failure_action =
             parse_choice<LookupFailure>(v, {{"defer", LookupFailure::Defer},
                                             {"resend", LookupFailure::Resend},
                                             {"fail", LookupFailure::Fail}});
     }},
    {"lookup_recheck_time", "time", Applies::OnReload, "5m",
     "after an uncertain outcome, a job is sent again only when Twilio's message list has "
     "not shown it in two lookups at least this far apart (the list lags)",
     [](Config& c, std::string_view v) { c.lookup_recheck_time = parse_duration(v, 1, 3600); }},
    {"failure_notice", "none, sender or address", Applies::OnReload, "none",
     "who is mailed when an SMS fails for good: none, sender (the envelope sender) or an address",
     [](Config& c, std::string_view v) {
         if (v == "none")
             c.failure_notice.clear();
         else if (v == "sender" || (v.find('@') != std::string_view::npos &&
                                    v.find_first_of(" <>") == std::string_view::npos))
             c.failure_notice = v;
         else
             bad("expected none, sender or an address");
     }},
    {"sendmail_command", "command", Applies::OnReload, "/usr/sbin/sendmail",
     "command (with arguments) that failure notices are piped to",
     [](Config& c, std::string_view v) {
         c.sendmail_command = split_list(v);
         if (c.sendmail_command.empty() || c.sendmail_command[0].front() != '/')
             bad("expected an absolute path");
     }},
    // Delivery status and replies (SPEC §9).
    {"status_polling", "yes/no", Applies::OnReload, "yes",
     "yes: follow each sent SMS's delivery status at Twilio (status_poll_schedule) until it is "
     "delivered, undelivered or failed; undelivered and failed count as permanent failures",
     [](Config& c, std::string_view v) { c.status_polling = parse_bool(v); }},
    {"status_poll_schedule", "times", Applies::OnReload, "30s, 2m, 10m, 1h",
     "when the status of a sent SMS is fetched: each time is the wait before the next poll "
     "(the first counts from the send); the last repeats until status_poll_give_up",
     [](Config& c, std::string_view v) {
         c.status_poll_schedule.clear();
         for (const auto& t : split_list(v))
             c.status_poll_schedule.push_back(parse_duration(t, 1, 86400));
         if (c.status_poll_schedule.empty() || c.status_poll_schedule.size() > 20)
             bad("expected 1 to 20 times, like 30s, 2m, 10m, 1h");
     }},
    {"status_poll_give_up", "time", Applies::OnReload, "1d",
     "how long after the send the status is followed; then it stays unknown (no notice)",
     [](Config& c, std::string_view v) {
         c.status_poll_give_up = parse_duration(v, 1, 7 * 86400);
     }},
    {"reply_forwarding", "yes/no", Applies::OnReload, "no",
     "yes: SMS replies to the sending number are mailed to the envelope sender of the latest "
     "SMS sent to the replying number within reply_window",
     [](Config& c, std::string_view v) { c.reply_forwarding = parse_bool(v); }},
    {"reply_window", "time", Applies::OnReload, "1d",
     "how long after an SMS a reply from its number is mailed back to that SMS's sender",
     [](Config& c, std::string_view v) { c.reply_window = parse_duration(v, 60, 30 * 86400); }},
    {"reply_poll_interval", "time", Applies::OnReload, "1m",
     "how often Twilio's list of messages to the sending number(s) is read for replies",
     [](Config& c, std::string_view v) { c.reply_poll_interval = parse_duration(v, 1, 3600); }},
    {"run_as_user", "user", Applies::OnRestart, "",
     "user to become after binding the socket, when started as root (empty: stay as started; "
     "systemd's User= is the usual way)",
     [](Config& c, std::string_view v) {
         if (!v.empty() && getpwnam(std::string(v).c_str()) == nullptr)
             bad(fmt::format("no user \"{}\"", printable(v)));
         c.run_as_user = v;
     }},
    {"log_to", "choice", Applies::OnReload, "syslog", "syslog (facility mail) or stderr",
     [](Config& c, std::string_view v) {
         c.log_to = parse_choice<LogTo>(v, {{"syslog", LogTo::Syslog}, {"stderr", LogTo::Stderr}});
     }},
    {"log_full_numbers", "yes/no", Applies::OnReload, "no", "yes: log phone numbers unmasked",
     [](Config& c, std::string_view v) { c.log_full_numbers = parse_bool(v); }},
    {"metrics_listen", "address", Applies::OnRestart, "",
     "IPV4:PORT or [IPV6]:PORT where GET /metrics serves Prometheus metrics (e.g. "
     "127.0.0.1:9899); empty: off; a non-loopback address is allowed with a warning (no "
     "authentication)",
     [](Config& c, std::string_view v) {
         if (!v.empty())
             require(metrics::parse_listen_address(v).has_value(),
                     "expected IPV4:PORT or [IPV6]:PORT, numeric, port 1 to 65535");
         c.metrics_listen = v;
     }},
    // Several relays (README "Several relays"; shared/shared_state/).
    {"shared_state", "URL", Applies::OnRestart, "",
     "redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS): share the rate limits, duplicate "
     "detection and storm windows with the other relays that name the same Redis; empty: "
     "this relay's own",
     [](Config& c, std::string_view v) {
         require(v.empty() || parse_redis_url(v).has_value(),
                 "expected redis://HOST:PORT/DB or rediss://HOST:PORT/DB (DB 0 to 15; the "
                 "password goes in shared_state_password_file)");
         c.shared_state = v;
     }},
    {"shared_state_password_file", "path", Applies::OnRestart, "",
     "file holding the Redis password (mode 0600, as the Twilio secret files); empty: no AUTH",
     [](Config& c, std::string_view v) {
         c.shared_state_password_file = v.empty() ? "" : absolute_path(v);
     }},
    {"shared_state_ca_file", "path", Applies::OnRestart, "",
     "extra CA bundle to trust for rediss:// (a private CA); the system store otherwise",
     [](Config& c, std::string_view v) {
         c.shared_state_ca_file = v.empty() ? "" : absolute_path(v);
     }},
    {"shared_state_failure", "choice", Applies::OnReload, "local",
     "while Redis cannot be reached: local (each relay counts, deduplicates and holds back "
     "storms on its own, with a warning in the log) or tempfail (SMS recipients get 451 4.3.0)",
     [](Config& c, std::string_view v) {
         c.shared_state_failure = parse_choice<SharedStateFailure>(
             v, {{"local", SharedStateFailure::Local}, {"tempfail", SharedStateFailure::Tempfail}});
     }},
    {"shared_state_timeout", "milliseconds", Applies::OnRestart, "200ms",
     "longest a connect, TLS handshake or command to Redis may take; past it Redis counts as "
     "unreachable (shared_state_failure) and is tried again after a backoff",
     [](Config& c, std::string_view v) {
         std::string_view n = v.ends_with("ms") ? v.substr(0, v.size() - 2) : v;
         std::size_t ms = parse_size(n, 10, 5000);
         c.shared_state_timeout = std::chrono::milliseconds(static_cast<long>(ms));
     }},
};

const KeyDef* find_key(std::string_view name) {
    for (const auto& k : kKeys)
        if (k.name == name) return &k;
    return nullptr;
}

// The user whose secret files root may read on its behalf (secret.h): `check --user`, else
// run_as_user, else the system user the shipped unit runs as (User=sms-milter). Only root
// reads for another user.
std::optional<uid_t> daemon_uid(const Config& c, const std::string& daemon_user) {
    if (::geteuid() != 0) return std::nullopt;
    std::string name = !daemon_user.empty()     ? daemon_user
                       : !c.run_as_user.empty() ? c.run_as_user
                                                : "sms-milter";
    const struct passwd* pw = ::getpwnam(name.c_str());
    if (!pw) return std::nullopt;
    return pw->pw_uid;
}

// Checks that span several keys, and loading of the secret files.
void finish(Config& c, const std::map<std::string, int, std::less<>>& lines, bool skip_secrets,
            const std::string& daemon_user, std::vector<std::string>& errors) {
    auto where = [&](std::string_view key) {
        auto it = lines.find(key);
        return it == lines.end() ? c.source : fmt::format("{}:{}", c.source, it->second);
    };
    auto need = [&](bool ok, std::string_view key, std::string_view text) {
        if (!ok) errors.push_back(fmt::format("{}: {}", where(key), text));
    };
    need(!c.gateway_domains.empty(), "gateway_domains", "gateway_domains is required");
    need(!c.twilio_account_sid.empty(), "twilio_account_sid", "twilio_account_sid is required");
    bool token = !c.twilio_auth_token_file.empty();
    bool apikey = !c.twilio_api_key_sid.empty() || !c.twilio_api_key_secret_file.empty();
    need(token != apikey, token ? "twilio_auth_token_file" : "twilio_api_key_sid",
         "set either twilio_auth_token_file or twilio_api_key_sid with twilio_api_key_secret_file");
    need(!apikey || (!c.twilio_api_key_sid.empty() && !c.twilio_api_key_secret_file.empty()),
         "twilio_api_key_sid", "twilio_api_key_sid and twilio_api_key_secret_file go together");
    need(c.twilio_from.empty() != c.twilio_messaging_service_sid.empty(), "twilio_from",
         "set exactly one of twilio_from and twilio_messaging_service_sid");
    need(c.minimal_backoff_time <= c.maximal_backoff_time, "maximal_backoff_time",
         "maximal_backoff_time is less than minimal_backoff_time");
    if (c.allowed_countries.empty()) c.allowed_countries.push_back(c.default_region);
    if (!c.aliases_file.empty()) {
        // An alias may list only numbers that could be texted directly.
        auto check = [&c](const PhoneNumber& n) -> std::string {
            const auto& countries = c.allowed_countries;
            if (std::find(countries.begin(), countries.end(), n.region) == countries.end())
                return fmt::format("region {} is not in allowed_countries", n.region);
            const auto& types = c.allowed_number_types;
            if (std::find(types.begin(), types.end(), n.type) == types.end())
                return fmt::format("number type {} is not in allowed_number_types",
                                   number_type_name(n.type));
            return "";
        };
        c.aliases = std::make_shared<const AliasTable>(
            load_aliases(c.aliases_file, c.default_region, check, errors));
    }
    if (!c.sender_rules_file.empty())
        c.sender_rules = std::make_shared<const SenderRules>(
            load_sender_rules(c.sender_rules_file, c.aliases.get(), errors));
    // A Messaging Service's sending numbers are learned from the status polls (SPEC §9).
    need(!c.reply_forwarding || c.twilio_messaging_service_sid.empty() || c.status_polling,
         "reply_forwarding",
         "reply_forwarding with twilio_messaging_service_sid needs status_polling = yes");
    if (auto at = c.failure_notice.rfind('@'); at != std::string::npos) {
        std::string domain = to_lower(c.failure_notice.substr(at + 1));
        for (const auto& d : c.gateway_domains)
            need(d.name != domain, "failure_notice",
                 "failure_notice must not be in a gateway domain");
        need(!c.carrier_domains || !find_carrier_domain(domain), "failure_notice",
             "failure_notice must not be in a carrier domain (carrier_domains = yes)");
    }

    if (token != apikey) {
        c.twilio_user = token ? c.twilio_account_sid : c.twilio_api_key_sid;
        std::string key = token ? "twilio_auth_token_file" : "twilio_api_key_secret_file";
        std::string file = token ? c.twilio_auth_token_file : c.twilio_api_key_secret_file;
        if (!skip_secrets && !file.empty()) {
            try {
                c.twilio_secret = read_secret_file(file, daemon_uid(c, daemon_user));
            } catch (const std::exception& e) {
                errors.push_back(fmt::format("{}: {}", where(key), e.what()));
            }
        }
    }
    need(c.shared_state.empty() || c.shared_state.starts_with("rediss://") ||
             c.shared_state_ca_file.empty(),
         "shared_state_ca_file", "shared_state_ca_file needs a rediss:// shared_state");
    if (!skip_secrets && !c.shared_state_password_file.empty()) {
        try {
            c.shared_state_password =
                read_secret_file(c.shared_state_password_file, daemon_uid(c, daemon_user));
        } catch (const std::exception& e) {
            errors.push_back(fmt::format("{}: {}", where("shared_state_password_file"), e.what()));
        }
    }
    if (!c.shared_state_ca_file.empty() && ::access(c.shared_state_ca_file.c_str(), R_OK) != 0)
        errors.push_back(fmt::format("{}: cannot read {}", where("shared_state_ca_file"),
                                     c.shared_state_ca_file));
    if (!c.twilio_ca_file.empty() && ::access(c.twilio_ca_file.c_str(), R_OK) != 0)
        errors.push_back(
            fmt::format("{}: cannot read {}", where("twilio_ca_file"), c.twilio_ca_file));
}

}  // namespace

ConfigLoad load_config(const std::string& path, bool skip_secrets, const std::string& daemon_user) {
    ConfigLoad result;
    auto cfg = std::make_shared<Config>();
    cfg->source = path;
    for (const auto& k : kKeys) k.set(*cfg, k.default_value);

    std::map<std::string, int, std::less<>> lines;
    for (const auto& e : read_config_entries(path, result.errors)) {
        const KeyDef* k = find_key(e.key);
        if (!k) {
            result.errors.push_back(
                fmt::format("{}:{}: unknown key \"{}\"", path, e.line, printable(e.key)));
            continue;
        }
        if (auto [it, fresh] = lines.emplace(e.key, e.line); !fresh) {
            result.errors.push_back(fmt::format("{}:{}: {} is already set at line {}", path, e.line,
                                                e.key, it->second));
            continue;
        }
        try {
            k->set(*cfg, e.value);
        } catch (const std::exception& ex) {
            result.errors.push_back(fmt::format("{}:{}: {}: {}", path, e.line, e.key, ex.what()));
        }
    }
    if (!result.errors.empty()) return result;
    finish(*cfg, lines, skip_secrets, daemon_user, result.errors);
    if (result.errors.empty()) result.config = std::move(cfg);
    return result;
}

std::string RateLimit::str() const {
    if (!on()) return "none";
    auto s = period.count();
    if (s % 86400 == 0) return fmt::format("{}/{}d", count, s / 86400);
    if (s % 3600 == 0) return fmt::format("{}/{}h", count, s / 3600);
    if (s % 60 == 0) return fmt::format("{}/{}m", count, s / 60);
    return fmt::format("{}/{}s", count, s);
}

std::string describe_config_keys() {
    std::string out;
    for (const auto& k : kKeys)
        out += fmt::format("{} = {}\n    ({}{}) {}\n", k.name, k.default_value, k.type,
                           k.applies == Applies::OnRestart ? "; needs a restart" : "", k.help);
    return out;
}

}  // namespace smsm
