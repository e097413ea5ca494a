// RCPT-time decisions for gateway recipients (SPEC §5). Access checks come before number
// checks (valid, country, type) so that a client that may not text learns nothing about
// numbers.
#include "shared/policy/policy.h"

#include <algorithm>

#include "shared/base/strings.h"
#include "shared/policy/address.h"
#include "shared/policy/aliases.h"
#include "shared/policy/sender_rules.h"

namespace smsm {

std::optional<GatewayMatch> match_gateway(const Config& cfg, std::string_view domain) {
    for (const auto& d : cfg.gateway_domains)
        if (iequals(d.name, domain))
            return GatewayMatch{d.region.empty() ? cfg.default_region : d.region, nullptr};
    if (cfg.carrier_domains)
        if (const CarrierDomain* c = find_carrier_domain(domain))
            return GatewayMatch{std::string(c->region), c};
    return std::nullopt;
}

bool is_gateway_domain(const Config& cfg, std::string_view domain) {
    return match_gateway(cfg, domain).has_value();
}

bool client_allowed(const Config& cfg, const std::optional<IpAddress>& client) {
    // A local submission has no client address; treat it as the loopback host.
    IpAddress addr = client ? *client : *IpAddress::parse("127.0.0.1");
    return std::any_of(cfg.allowed_clients.begin(), cfg.allowed_clients.end(),
                       [&](const Cidr& c) { return c.contains(addr); });
}

bool sender_allowed(const Config& cfg, std::string_view sender) {
    if (cfg.allowed_senders.empty()) return true;
    std::string bare = bare_address(sender);
    auto at = bare.rfind('@');
    if (bare.empty() || at == std::string::npos) return false;  // null sender or no domain
    std::string_view domain = std::string_view(bare).substr(at);
    return std::any_of(
        cfg.allowed_senders.begin(), cfg.allowed_senders.end(),
        [&](const std::string& s) { return s == bare || (s.front() == '@' && s == domain); });
}

namespace {

void decide_number(const Config& cfg, PhoneNumber n, RcptDecision& d) {
    const auto& countries = cfg.allowed_countries;
    const auto& types = cfg.allowed_number_types;
    if (std::find(countries.begin(), countries.end(), n.region) == countries.end()) {
        d.reply = replies::country_denied();
        d.reason = metrics::RcptReason::Country;
    } else if (std::find(types.begin(), types.end(), n.type) == types.end()) {
        // Premium rate, shared cost and the like: the classic SMS pumping fraud targets.
        d.reply = replies::number_type_denied(number_type_name(n.type));
        d.reason = metrics::RcptReason::NumberType;
    } else {
        d.numbers = {n};
        d.number = std::move(n);
    }
}

// Aliases live in the gateway domains, not in the carriers' domains.
const std::vector<PhoneNumber>* find_alias(const Config& cfg, const GatewayMatch& gateway,
                                           std::string_view local) {
    return cfg.aliases && !gateway.carrier ? cfg.aliases->find(local) : nullptr;
}

// sender_rules: the first rule for the sender decides; no rule, no SMS.
void apply_rules(const Config& cfg, const Envelope& env, RcptDecision& d) {
    const SenderRule* rule = cfg.sender_rules->match(bare_address(env.sender));
    d.rule_line = rule ? rule->line : 0;
    if (rule && rule->allows(d.number ? d.number->e164 : "", d.alias)) return;
    d.reply = replies::destination_denied();
    d.reason = metrics::RcptReason::SenderRules;
    d.number.reset();
    d.alias.clear();
    d.numbers.clear();
}

}  // namespace

RcptDecision decide_rcpt(const Config& cfg, const Envelope& env, std::string_view rcpt) {
    RcptDecision d;
    auto addr = parse_address(rcpt);
    if (!addr) return d;
    auto gateway = match_gateway(cfg, addr->domain);
    if (!gateway) return d;
    d.gateway = true;
    d.carrier = gateway->carrier;
    if (env.local_submission && !cfg.local_submission) {
        d.reply = replies::local_denied();
        d.reason = metrics::RcptReason::LocalSubmission;
    } else if (!client_allowed(cfg, env.client)) {
        d.reply = replies::client_denied();
        d.reason = metrics::RcptReason::Client;
    } else if (!sender_allowed(cfg, env.sender)) {
        d.reply = replies::sender_denied();
        d.reason = metrics::RcptReason::Sender;
    } else if (cfg.require_sasl_auth && env.auth_user.empty()) {
        d.reply = replies::auth_required();
        d.reason = metrics::RcptReason::Sasl;
    } else if (auto n = parse_phone(addr->local, gateway->region); n) {
        decide_number(cfg, std::move(*n), d);
    } else if (auto alias = find_alias(cfg, *gateway, addr->local)) {
        // Checked against allowed_countries and allowed_number_types when the file was loaded.
        d.alias = to_lower(addr->local);
        d.numbers = *alias;
    } else {
        d.reply = replies::bad_number();
        d.reason = metrics::RcptReason::InvalidNumber;
    }
    if (d.reply.action == Reply::Action::Continue && cfg.sender_rules) apply_rules(cfg, env, d);
    return d;
}

}  // namespace smsm
