// Twilio's error codes: temporary, configuration, and their meanings (twilio_errors.h).
#include "shared/twilio/twilio_errors.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace smsm {

namespace {
struct Known {
    int code;
    std::string_view meaning;
};
// Sorted by code. From Twilio's error dictionary (www.twilio.com/docs/errors).
constexpr Known kKnown[] = {
    {14107, "too many messages between this pair of numbers (over 30 in 30 seconds)"},
    {20003, "authentication failed (wrong credentials, or credentials of another region)"},
    {20404, "resource not found"},
    {20429, "too many requests"},
    {21211, "invalid 'To' number"},
    {21408, "no permission to send to this region"},
    {21610, "the recipient has opted out (replied STOP)"},
    {21611, "the sender's queue at Twilio is full; try again later"},
    {21612, "Twilio cannot route to this number from this sender"},
    {21614, "the number is not a mobile number and cannot receive SMS"},
    {21617, "the text is longer than 1600 characters"},
    {30001, "queue overflow: too many messages waited at Twilio for the sending number"},
    {30002, "the Twilio account is suspended"},
    {30003, "unreachable handset: the phone is off or out of coverage"},
    {30004, "message blocked by the recipient or the carrier"},
    {30005, "unknown handset: the number does not exist at the carrier"},
    {30006, "landline or unreachable carrier: the number cannot receive SMS"},
    {30007, "message filtered by the carrier (spam filter; common for unregistered 10DLC traffic)"},
    {30008, "unknown error at the carrier"},
    {30009, "a segment of the message was lost"},
    {30010, "the message price exceeds the configured maximum price"},
    {30022, "US A2P 10DLC throughput limit exceeded"},
    {30023, "US A2P 10DLC daily limit reached"},
    {30024, "sender not provisioned by the carrier"},
    {30032, "toll-free sending number not verified"},
    {30034, "sent from an unregistered US A2P 10DLC number"},
    {30450, "message blocked by Twilio's SMS pumping protection"},
    {70051, "the API key lacks the permission for this request"},
};
static_assert(std::is_sorted(std::begin(kKnown), std::end(kKnown),
                             [](const Known& a, const Known& b) { return a.code < b.code; }));
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

std::string twilio_error_text(int code) {
    if (code == 0) return "no error code";
    std::string_view meaning = twilio_error_meaning(code);
    if (meaning.empty())
        return fmt::format("{}: see https://www.twilio.com/docs/errors/{}", code, code);
    return fmt::format("{}: {}", code, meaning);
}

}  // namespace smsm
