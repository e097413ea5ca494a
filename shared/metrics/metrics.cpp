// The sms-milter metrics (SPEC §8): the process-wide registry, the counting functions and
// the rendering of a scrape. See metrics.h.
#include "shared/metrics/metrics.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "shared/metrics/exposition.h"
#include "shared/metrics/registry.h"

#ifndef SMS_MILTER_VERSION
#define SMS_MILTER_VERSION "unknown"
#endif

namespace smsm::metrics {

namespace {

template <typename E>
constexpr std::size_t n_of() {
    return static_cast<std::size_t>(E::Count_);
}
template <typename E>
constexpr std::size_t idx(E e) {
    return static_cast<std::size_t>(e);
}

constexpr std::array<std::string_view, n_of<SmsStatus>()> kSmsStatus = {
    "queued",    "sent",      "deferred",    "failed", "suppressed",
    "duplicate", "delivered", "undelivered", "unknown"};
constexpr std::array<std::string_view, n_of<RcptReason>()> kRcptReason = {
    "allowed",
    "client",
    "sender",
    "sasl",
    "local_submission",
    "sender_rules",
    "country",
    "number_type",
    "invalid_number",
    "rate_limit",
    "too_many_recipients",
    "shared_state_unavailable"};
constexpr std::array<std::string_view, n_of<RateLimitKind>()> kLimit = {"sender", "destination",
                                                                        "global"};
constexpr std::array<std::string_view, n_of<TwilioRequest>()> kRequest = {"create", "read"};

// A value added to an enum without its name here would be an empty label: refuse to build.
template <std::size_t N>
constexpr bool all_named(const std::array<std::string_view, N>& names) {
    for (auto n : names)
        if (n.empty()) return false;
    return true;
}
static_assert(all_named(kSmsStatus) && all_named(kRcptReason) && all_named(kLimit) &&
              all_named(kRequest));

std::string_view rcpt_result(RcptReason r) {
    switch (r) {
        case RcptReason::Allowed:
            return "accept";
        case RcptReason::RateLimit:
        case RcptReason::TooManyRecipients:
        case RcptReason::SharedStateUnavailable:
            return "tempfail";
        default:
            return "reject";
    }
}

// Seconds. End of message: a commit takes milliseconds; eom_wait may hold it up to 240 s.
const std::vector<double> kEomBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,      2.5,   5,    10,    30,   60,  240};
// A Twilio request: tens of milliseconds to twilio_timeout (at most 300 s).
const std::vector<double> kTwilioBuckets = {0.025, 0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                            5,     10,   30,  60,   120, 300};

struct Registry {
    Counter messages;
    CounterArray<n_of<RcptReason>()> rcpt;
    CounterArray<n_of<SmsStatus>()> sms;
    CounterArray<n_of<RateLimitKind>()> limits;
    std::array<CounterMap, n_of<TwilioRequest>()> twilio = {CounterMap(64, "other other"),
                                                            CounterMap(64, "other other")};
    std::array<Histogram, n_of<TwilioRequest>()> twilio_time = {Histogram(kTwilioBuckets),
                                                                Histogram(kTwilioBuckets)};
    Counter reloads_ok, reloads_failed;
    std::atomic<int> last_reload_ok{1};
    Histogram eom{kEomBuckets};
};

Registry& reg() {
    static Registry r;
    return r;
}

struct Family {
    std::string_view name, type, help;
};

// Every metric, in the order a scrape shows them.
constexpr Family kFamilies[] = {
    {"sms_milter_build_info", "gauge", "always 1; the version in the label version"},
    {"sms_milter_messages_total", "counter",
     "messages with at least one SMS recipient that reached end of message"},
    {"sms_milter_rcpt_decisions_total", "counter",
     "RCPT decisions for gateway recipients, by result (accept, reject, tempfail) and reason"},
    {"sms_milter_sms_total", "counter",
     "SMS by status, one count per log line with that status= (queued, sent, deferred, failed, "
     "suppressed, duplicate, delivered, undelivered, unknown)"},
    {"sms_milter_rate_limit_hits_total", "counter",
     "recipients refused with 450 4.7.1 by a rate limit (this relay's or one shared through "
     "shared_state), by limit (sender, destination, global)"},
    {"sms_milter_twilio_responses_total", "counter",
     "Twilio requests by kind (create; read: message list, status and reply polls), HTTP status "
     "and Twilio error code (none: no "
     "HTTP answer or no error code)"},
    {"sms_milter_twilio_request_duration_seconds", "histogram",
     "time from the start of a Twilio request to its end, by kind (create, read)"},
    {"sms_milter_end_of_message_duration_seconds", "histogram",
     "time end of message took for messages with SMS recipients (jobs made durable, eom_wait)"},
    {"sms_milter_config_reloads_total", "counter",
     "configuration reloads (SIGUSR1) by result (success, failure)"},
    {"sms_milter_config_last_reload_successful", "gauge",
     "1 when the last reload succeeded (or none was tried), 0 when it failed"},
    {"sms_milter_outbox_readable", "gauge",
     "1 when this scrape could read the outbox, 0 when not (the outbox gauges are then absent)"},
    {"sms_milter_outbox_jobs", "gauge",
     "SMS jobs in the outbox waiting to be sent, by state (queued, sending, deferred)"},
    {"sms_milter_outbox_oldest_job_age_seconds", "gauge",
     "age of the oldest job waiting to be sent (queued, sending or deferred); 0 when none"},
};

const Family& fam(std::string_view name) {
    for (const auto& f : kFamilies)
        if (f.name == name) return f;
    return kFamilies[0];  // unreachable: every name below is in the table
}

}  // namespace

void count_message() {
    reg().messages.add();
}
void count_rcpt(RcptReason reason) {
    reg().rcpt.add(idx(reason));
}
void count_sms(SmsStatus status, std::uint64_t n) {
    reg().sms.add(idx(status), n);
}
void count_rate_limit_hit(RateLimitKind limit) {
    reg().limits.add(idx(limit));
}
void count_twilio_answer(TwilioRequest request, long http_status, int error_code, double seconds) {
    auto i = idx(request);
    if (i >= n_of<TwilioRequest>()) return;
    std::string status = http_status > 0 ? std::to_string(http_status) : "none";
    std::string code = error_code != 0 ? std::to_string(error_code) : "none";
    reg().twilio[i].add(status + ' ' + code);
    reg().twilio_time[i].observe(seconds);
}
void count_reload(bool ok) {
    (ok ? reg().reloads_ok : reg().reloads_failed).add();
    reg().last_reload_ok.store(ok ? 1 : 0, std::memory_order_relaxed);
}
void observe_end_of_message(double seconds) {
    reg().eom.observe(seconds);
}

std::string render_metrics(const OutboxGauges& outbox, std::int64_t now) {
    Registry& r = reg();
    TextWriter w;
    auto head = [&](std::string_view name) {
        const Family& f = fam(name);
        w.family(f.name, f.type, f.help);
        return f.name;
    };
    auto n = head("sms_milter_build_info");
    w.sample(n, {{"version", SMS_MILTER_VERSION}}, std::uint64_t{1});
    n = head("sms_milter_messages_total");
    w.sample(n, {}, r.messages.value());
    n = head("sms_milter_rcpt_decisions_total");
    for (std::size_t i = 0; i < kRcptReason.size(); ++i)
        w.sample(n,
                 {{"result", rcpt_result(static_cast<RcptReason>(i))}, {"reason", kRcptReason[i]}},
                 r.rcpt.value(i));
    n = head("sms_milter_sms_total");
    for (std::size_t i = 0; i < kSmsStatus.size(); ++i)
        w.sample(n, {{"status", kSmsStatus[i]}}, r.sms.value(i));
    n = head("sms_milter_rate_limit_hits_total");
    for (std::size_t i = 0; i < kLimit.size(); ++i)
        w.sample(n, {{"limit", kLimit[i]}}, r.limits.value(i));
    n = head("sms_milter_twilio_responses_total");
    for (std::size_t i = 0; i < kRequest.size(); ++i) {
        for (const auto& [key, count] : r.twilio[i].snapshot()) {
            auto space = key.find(' ');
            std::string_view k(key);
            w.sample(n,
                     {{"request", kRequest[i]},
                      {"http_status", k.substr(0, space)},
                      {"error_code", k.substr(space + 1)}},
                     count);
        }
    }
    n = head("sms_milter_twilio_request_duration_seconds");
    for (std::size_t i = 0; i < kRequest.size(); ++i)
        w.histogram(n, {{"request", kRequest[i]}}, r.twilio_time[i].snapshot());
    n = head("sms_milter_end_of_message_duration_seconds");
    w.histogram(n, {}, r.eom.snapshot());
    n = head("sms_milter_config_reloads_total");
    w.sample(n, {{"result", "success"}}, r.reloads_ok.value());
    w.sample(n, {{"result", "failure"}}, r.reloads_failed.value());
    n = head("sms_milter_config_last_reload_successful");
    w.sample(n, {}, static_cast<std::uint64_t>(r.last_reload_ok.load(std::memory_order_relaxed)));
    n = head("sms_milter_outbox_readable");
    w.sample(n, {}, std::uint64_t{outbox.readable ? 1u : 0u});
    if (outbox.readable) {
        n = head("sms_milter_outbox_jobs");
        w.sample(n, {{"state", "queued"}}, static_cast<std::uint64_t>(outbox.queued));
        w.sample(n, {{"state", "sending"}}, static_cast<std::uint64_t>(outbox.sending));
        w.sample(n, {{"state", "deferred"}}, static_cast<std::uint64_t>(outbox.deferred));
        n = head("sms_milter_outbox_oldest_job_age_seconds");
        std::int64_t age = outbox.oldest_created ? now - *outbox.oldest_created : 0;
        w.sample(n, {}, static_cast<std::uint64_t>(age > 0 ? age : 0));
    }
    return w.text();
}

std::string describe_metrics() {
    std::string out;
    for (const auto& f : kFamilies) out += fmt::format("{} {} {}\n", f.name, f.type, f.help);
    return out;
}

}  // namespace smsm::metrics
