// The well-known carrier email-to-SMS/MMS gateway domains of the United States and Canada, as
// the carriers documented them for their subscribers (most of them are shut down or being
// shut down: that is why devices still configured with them need sms-milter). Only domains
// whose owner and country are certain are listed; an admin adds others with gateway_domains
// (DOMAIN:REGION).
#include "shared/policy/carrier_domains.h"

#include <fmt/format.h>

#include <algorithm>

#include "shared/base/strings.h"

namespace smsm {

namespace {

constexpr CarrierDomain kCarrierDomains[] = {
    // United States
    {"vtext.com", "US", "Verizon", "SMS"},
    {"vzwpix.com", "US", "Verizon", "MMS"},
    {"txt.att.net", "US", "AT&T", "SMS"},
    {"mms.att.net", "US", "AT&T", "MMS"},
    {"tmomail.net", "US", "T-Mobile", "SMS/MMS"},
    {"messaging.sprintpcs.com", "US", "Sprint", "SMS"},
    {"pm.sprint.com", "US", "Sprint", "MMS"},
    {"email.uscc.net", "US", "US Cellular", "SMS"},
    {"mms.uscc.net", "US", "US Cellular", "MMS"},
    {"sms.cricketwireless.net", "US", "Cricket", "SMS"},
    {"mms.cricketwireless.net", "US", "Cricket", "MMS"},
    {"sms.myboostmobile.com", "US", "Boost Mobile", "SMS"},
    {"myboostmobile.com", "US", "Boost Mobile", "MMS"},
    {"mymetropcs.com", "US", "Metro by T-Mobile", "SMS/MMS"},
    {"msg.fi.google.com", "US", "Google Fi", "SMS/MMS"},
    {"vmobl.com", "US", "Virgin Mobile USA", "SMS"},
    {"vmpix.com", "US", "Virgin Mobile USA", "MMS"},
    {"message.ting.com", "US", "Ting", "SMS"},
    {"mailmymobile.net", "US", "Consumer Cellular", "SMS"},
    {"text.republicwireless.com", "US", "Republic Wireless", "SMS"},
    // Canada
    {"txt.bell.ca", "CA", "Bell", "SMS"},
    {"txt.bellmobility.ca", "CA", "Bell", "SMS"},
    {"pcs.rogers.com", "CA", "Rogers", "SMS/MMS"},
    {"msg.telus.com", "CA", "Telus", "SMS"},
    {"mms.telusmobility.com", "CA", "Telus", "MMS"},
    {"fido.ca", "CA", "Fido", "SMS/MMS"},
    {"msg.koodomobile.com", "CA", "Koodo", "SMS"},
    {"vmobile.ca", "CA", "Virgin Mobile Canada", "SMS"},
    {"txt.freedommobile.ca", "CA", "Freedom Mobile", "SMS"},
    {"sms.sasktel.com", "CA", "SaskTel", "SMS"},
};

}  // namespace

std::span<const CarrierDomain> carrier_domains() {
    return kCarrierDomains;
}

const CarrierDomain* find_carrier_domain(std::string_view domain) {
    auto it = std::find_if(std::begin(kCarrierDomains), std::end(kCarrierDomains),
                           [&](const CarrierDomain& c) { return iequals(c.domain, domain); });
    return it == std::end(kCarrierDomains) ? nullptr : &*it;
}

std::string describe_carrier_domains() {
    std::string out;
    for (const auto& c : kCarrierDomains)
        out += fmt::format("{:<26} {}  {} ({})\n", c.domain, c.region, c.carrier, c.kind);
    return out;
}

}  // namespace smsm
