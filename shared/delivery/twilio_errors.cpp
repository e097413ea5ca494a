// Twilio's error codes: temporary, configuration, and their meanings (twilio_errors.h).
#include "shared/delivery/twilio_errors.h"

#include <algorithm>
#include <iterator>

namespace smsm {

namespace {
struct Known {
    int code;
    std::string_view meaning;
};
// Sorted by code. From Twilio's error dictionary (www.twilio.com/docs/api/errors).
constexpr Known kKnown[] = {
    {14107, "too many messages between this pair of numbers (over 30 in 30 seconds)"},
    {20003, "authentication failed (wrong credentials, or credentials of another region)"},
    {20404, "resource not found"},
    {20429, "too many requests"},
    {21211, "invalid 'To' number"},
    {21408, "no permission to send to this region"},
    {21610, "the recipient replied STOP (unsubscribed)"},
    {21611, "the sender's queue at Twilio is full; try again later"},
    {21612, "the number cannot be reached from this sender"},
    {21614, "the number cannot receive SMS"},
    {21617, "the text is longer than 1600 characters"},
    {30001, "queue overflow: too many messages waited at Twilio for this sender"},
    {30003, "unreachable destination handset"},
    {30005, "unknown destination handset"},
    {30006, "landline or unreachable carrier"},
    {30007, "blocked by the carrier (filtering)"},
    {30008, "unknown error from the carrier"},
    {30032, "toll-free number not verified"},
    {30450, "blocked by Twilio's SMS pumping protection"},
    {70051, "the API key lacks the permission for this request"},
};
}  // namespace

bool twilio_code_is_temporary(int code) {
    return code == 20429 || code == 21611;
}

bool twilio_code_is_auth(int code) {
    return code == 20003 || code == 70051;
}

std::string_view twilio_error_meaning(int code) {
    auto it = std::lower_bound(std::begin(kKnown), std::end(kKnown), code,
                               [](const Known& k, int c) { return k.code < c; });
    return it != std::end(kKnown) && it->code == code ? it->meaning : std::string_view();
}

}  // namespace smsm
