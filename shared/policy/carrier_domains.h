// The shipped list of well-known carrier email-to-SMS/MMS gateway domains (carrier_domains =
// yes): mail to 4155551212@vtext.com is handled like mail to a gateway domain, with the
// carrier's country deciding how a number in national form is read. See CARRIER DOMAINS in
// sms-milter.conf(5) for where the list comes from.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace smsm {

struct CarrierDomain {
    std::string_view domain;   // lower case
    std::string_view region;   // ISO 3166 region of the carrier's numbers
    std::string_view carrier;  // e.g. "Verizon"
    std::string_view kind;     // "SMS", "MMS" or "SMS/MMS"
};

std::span<const CarrierDomain> carrier_domains();

// The entry for a domain (compared without regard to case), or null.
const CarrierDomain* find_carrier_domain(std::string_view domain);

// One line per domain, "DOMAIN REGION CARRIER (KIND)", for `sms-milter help carrier-domains`.
std::string describe_carrier_domains();

}  // namespace smsm
