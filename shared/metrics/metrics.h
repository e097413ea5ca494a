// What sms-milter counts for Prometheus (SPEC §8) and how a scrape reads it: one process-wide
// set of metrics, counted from the milter's threads without locks (registry.h), rendered in
// the Prometheus text format by render_metrics() for the endpoint (http_server.h). Every
// metric is listed in kFamilies (name, type, meaning): `sms-milter help metrics` prints that
// list, and the man page must say the same (tests/docs/check_docs.sh).
//
// Adding a label value: append it to its enum before Count_ and its name to the matching
// names array in metrics.cpp; the series then exists (at 0) from the start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace smsm::metrics {

// SMS by what became of them: one count per log line with that status= (queued, suppressed,
// duplicate at end of message; sent, deferred, failed by the sender; delivered, undelivered,
// failed and unknown by the delivery status follow-up, SPEC §9).
enum class SmsStatus {
    Queued,
    Sent,
    Deferred,
    Failed,
    Suppressed,
    Duplicate,
    Delivered,
    Undelivered,
    Unknown,  // the delivery status was given up on (status_poll_give_up)
    Count_
};

// Why a gateway recipient got its RCPT decision (the result, accept, reject or tempfail,
// follows from it).
enum class RcptReason {
    Allowed,
    Client,           // allowed_clients
    Sender,           // allowed_senders
    Sasl,             // require_sasl_auth
    LocalSubmission,  // local_submission = no
    SenderRules,      // sender_rules
    Country,          // allowed_countries
    NumberType,       // allowed_number_types
    InvalidNumber,    // neither a number nor an alias
    RateLimit,        // a rate limit (also counted by limit)
    TooManyRecipients,
    SharedStateUnavailable,  // shared_state_failure = tempfail while Redis is unreachable
    Count_
};

enum class RateLimitKind { Sender, Destination, Global, Count_ };

// create: POST of a message; read: any GET (the message list after an uncertain outcome,
// status polls, reply polls).
enum class TwilioRequest { Create, Read, Count_ };

// Counting, from any thread.
void count_message();  // a message with SMS recipients reached end of message
void count_rcpt(RcptReason reason);
void count_sms(SmsStatus status, std::uint64_t n = 1);
void count_rate_limit_hit(RateLimitKind limit);
// A request's end: http_status 0 when no HTTP answer came (connection failed, timeout);
// error_code 0 when Twilio's answer had none.
void count_twilio_answer(TwilioRequest request, long http_status, int error_code, double seconds);
void count_reload(bool ok);
void observe_end_of_message(double seconds);

// What a scrape reads from the outbox (a bounded query on its own connection).
struct OutboxGauges {
    bool readable = false;
    std::int64_t queued = 0, sending = 0, deferred = 0;
    std::optional<std::int64_t> oldest_created;  // unix seconds; none: nothing waiting
};

// The whole exposition, in Prometheus text format 0.0.4.
std::string render_metrics(const OutboxGauges& outbox, std::int64_t now);

// One line per metric: "NAME TYPE MEANING" (`sms-milter help metrics`).
std::string describe_metrics();

}  // namespace smsm::metrics
