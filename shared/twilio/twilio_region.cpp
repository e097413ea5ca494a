// Which Twilio region twilio_api_url points at (twilio_region.h).
#include "shared/twilio/twilio_region.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace smsm {

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

// "ie1", "au1", "us1": two letters and a digit.
bool is_region_id(std::string_view s) {
    return s.size() == 3 && std::isalpha(static_cast<unsigned char>(s[0])) &&
           std::isalpha(static_cast<unsigned char>(s[1])) &&
           std::isdigit(static_cast<unsigned char>(s[2]));
}

std::vector<std::string_view> labels(std::string_view host) {
    std::vector<std::string_view> out;
    while (true) {
        auto dot = host.find('.');
        out.push_back(host.substr(0, dot));
        if (dot == std::string_view::npos) return out;
        host.remove_prefix(dot + 1);
    }
}
}  // namespace

TwilioRegion twilio_region(std::string_view url) {
    TwilioRegion r;
    std::string_view rest = url;
    if (auto scheme = rest.find("://"); scheme != std::string_view::npos)
        rest.remove_prefix(scheme + 3);
    rest = rest.substr(0, rest.find('/'));
    if (!rest.empty() && rest.front() == '[') return r;  // an IPv6 address
    std::string host = lower(rest.substr(0, rest.find(':')));
    if (!host.empty() && host.back() == '.') host.pop_back();
    auto parts = labels(host);
    auto n = parts.size();
    if (n < 2 || parts[n - 2] != "twilio" || parts[n - 1] != "com") return r;
    if (host == "api.twilio.com") {
        r.region = "US1";
        return r;
    }
    if (n == 5 && parts[0] == "api" && is_region_id(parts[2])) {
        r.region = upper(parts[2]);
        r.edge = parts[1];
        return r;
    }
    if (n == 4 && parts[0] == "api" && is_region_id(parts[1])) {
        r.region = upper(parts[1]);
        r.problem = fmt::format(
            "{} is the old api.REGION.twilio.com form, which Twilio retired on 28 April 2026; "
            "use api.EDGE.{}.twilio.com (e.g. api.dublin.ie1.twilio.com) or api.twilio.com",
            host, parts[1]);
        return r;
    }
    r.region = "?";
    r.problem = fmt::format("{} is not a Twilio API host of a known form", host);
    return r;
}

std::string TwilioRegion::describe() const {
    if (region.empty())
        return "twilio_api_url is not a Twilio host (a proxy or a test server): Twilio region "
               "unknown";
    if (!problem.empty()) return "warning: twilio_api_url: " + problem;
    if (edge.empty())
        return fmt::format("twilio_api_url is Twilio region {}{}", region,
                           region == "US1" ? " (the default)" : "");
    return fmt::format(
        "twilio_api_url is Twilio region {} via the {} edge; the credentials must be "
        "{}'s own",
        region, edge, region);
}

}  // namespace smsm
