// RCPT-time decisions for gateway recipients (SPEC §5): client, sender, SASL, number (or
// alias), country and number type. Recipients outside the gateway domains (and, with
// carrier_domains = yes, the shipped carrier domains) are never touched.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/cidr.h"
#include "shared/config/config.h"
#include "shared/metrics/metrics.h"
#include "shared/policy/carrier_domains.h"
#include "shared/policy/phone.h"
#include "shared/policy/reply.h"

namespace smsm {

struct Envelope {
    std::optional<IpAddress> client;  // none: the MTA gave no address (local submission)
    std::string sender;               // MAIL FROM argument as received
    std::string auth_user;            // {auth_authen}; empty when not authenticated
    // Submitted on the MTA host itself (sendmail(1), Postfix pickup): no SMTP client. The MTA
    // cannot refuse such a recipient at RCPT; the refusal waits for end of message.
    bool local_submission = false;
};

struct RcptDecision {
    bool gateway = false;                    // the recipient is in a gateway domain
    const CarrierDomain* carrier = nullptr;  // set when it is a shipped carrier domain
    Reply reply;                             // Continue when allowed (or not ours)
    std::optional<PhoneNumber> number;       // set when gateway, allowed and a number
    std::string alias;                       // set when gateway, allowed and an alias
    std::vector<PhoneNumber> numbers;        // what to text when allowed: 1, or the alias's
    int rule_line = 0;                       // the sender_rules line that decided; 0: none
    metrics::RcptReason reason = metrics::RcptReason::Allowed;  // what decided, for metrics
};

// A domain whose recipients are SMS: the region its national numbers are read in, and the
// carrier when it is one of the shipped carrier domains (carrier_domains = yes). A domain in
// gateway_domains wins over the shipped list.
struct GatewayMatch {
    std::string region;
    const CarrierDomain* carrier = nullptr;
};
std::optional<GatewayMatch> match_gateway(const Config& cfg, std::string_view domain);
bool is_gateway_domain(const Config& cfg, std::string_view domain);
bool client_allowed(const Config& cfg, const std::optional<IpAddress>& client);
bool sender_allowed(const Config& cfg, std::string_view sender);

RcptDecision decide_rcpt(const Config& cfg, const Envelope& env, std::string_view rcpt);

}  // namespace smsm
