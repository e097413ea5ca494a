// RCPT-time decisions for gateway recipients (SPEC §5): client, sender, SASL, number and
// country. Recipients outside the gateway domains are never touched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shared/cidr.h"
#include "shared/config.h"
#include "shared/phone.h"
#include "shared/reply.h"

namespace smsm {

struct Envelope {
    std::optional<IpAddress> client;  // none: local submission (sendmail command)
    std::string sender;               // MAIL FROM argument as received
    std::string auth_user;            // {auth_authen}; empty when not authenticated
};

struct RcptDecision {
    bool gateway = false;               // the recipient is in a gateway domain
    Reply reply;                        // Continue when allowed (or not ours)
    std::optional<PhoneNumber> number;  // set when gateway and allowed
};

bool is_gateway_domain(const Config& cfg, std::string_view domain);
bool client_allowed(const Config& cfg, const std::optional<IpAddress>& client);
bool sender_allowed(const Config& cfg, std::string_view sender);

RcptDecision decide_rcpt(const Config& cfg, const Envelope& env, std::string_view rcpt);

}  // namespace smsm
