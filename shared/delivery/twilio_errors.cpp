// Twilio error codes in words (https://www.twilio.com/docs/errors), the ones a sent message
// can still end with after Twilio's 201, and a few create-time ones seen again there.
#include "shared/delivery/twilio_errors.h"

#include <fmt/format.h>

#include <utility>

namespace smsm {

namespace {

constexpr std::pair<int, const char*> kMeanings[] = {
    {14107, "rate limit between this pair of numbers exceeded (over ~30 messages in 30 s)"},
    {21610, "the recipient has opted out (replied STOP)"},
    {21612, "Twilio cannot route to this number"},
    {21614, "the number is not a mobile number"},
    {30001, "queue overflow: too many messages queued for the sending number"},
    {30002, "the Twilio account is suspended"},
    {30003, "unreachable handset: the phone is off or out of coverage"},
    {30004, "message blocked by the recipient or the carrier"},
    {30005, "unknown handset: the number does not exist at the carrier"},
    {30006, "landline or unreachable carrier: the number cannot receive SMS"},
    {30007,
     "message filtered by the carrier (spam filter; common for unregistered 10DLC "
     "traffic)"},
    {30008, "unknown error at the carrier"},
    {30009, "a segment of the message was lost"},
    {30010, "the message price exceeds the configured maximum price"},
    {30022, "US A2P 10DLC throughput limit exceeded"},
    {30023, "US A2P 10DLC daily limit reached"},
    {30024, "sender not provisioned by the carrier"},
    {30032, "toll-free sending number not verified"},
    {30034, "sent from an unregistered US A2P 10DLC number"},
    {30450, "message blocked by Twilio's SMS pumping protection"},
};

}  // namespace

std::string twilio_error_meaning(int code) {
    for (const auto& [c, text] : kMeanings)
        if (c == code) return text;
    return fmt::format("see https://www.twilio.com/docs/errors/{}", code);
}

std::string twilio_error_text(int code) {
    if (code == 0) return "no error code";
    return fmt::format("{}: {}", code, twilio_error_meaning(code));
}

}  // namespace smsm
