// Which Twilio region twilio_api_url points at, in words, for `sms-milter check`.
//
// Twilio's hosts (www.twilio.com/docs/global-infrastructure): api.twilio.com is the US1
// region (the default); api.EDGE.REGION.twilio.com processes in REGION and enters through
// the edge EDGE (api.dublin.ie1.twilio.com: IE1 via dublin, api.sydney.au1.twilio.com: AU1
// via sydney). The older api.REGION.twilio.com (api.ie1.twilio.com) was retired on 28 April
// 2026. Credentials (auth token, API keys) exist per region: those of US1 fail elsewhere
// with 20003.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

struct TwilioRegion {
    std::string region;            // "US1", "IE1", ...; empty: not a Twilio API host
    std::string edge;              // "dublin", ...; empty: the default for the region
    std::string problem;           // a host Twilio no longer answers on, or of unknown form
    std::string describe() const;  // one line for `check`
};

// From the URL's host (twilio_api_url, already validated as https://HOST[:PORT][/PATH]).
TwilioRegion twilio_region(std::string_view url);

}  // namespace smsm
