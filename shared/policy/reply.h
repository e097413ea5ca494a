// What the milter answers the MTA for one step: the action and, for rejects and tempfails,
// the SMTP reply text (SPEC §5).
#pragma once

#include <string>
#include <string_view>

namespace smsm {

struct Reply {
    enum class Action { Continue, Reject, Tempfail, Discard, Accept };
    Action action = Action::Continue;
    std::string rcode;  // "550"
    std::string xcode;  // "5.7.1"
    std::string text;   // no CR/LF, no '%'

    static Reply cont() { return {}; }
    static Reply reject(std::string x, std::string t) {
        return {Action::Reject, "550", std::move(x), std::move(t)};
    }
    static Reply tempfail(std::string r, std::string x, std::string t) {
        return {Action::Tempfail, std::move(r), std::move(x), std::move(t)};
    }
    std::string str() const { return rcode + " " + xcode + " " + text; }
};

// The replies the contract names.
namespace replies {
inline Reply client_denied() {
    return Reply::reject("5.7.1", "SMS not permitted from this client");
}
inline Reply sender_denied() {
    return Reply::reject("5.7.1", "Sender not permitted to send SMS");
}
// local_submission = no: mail submitted on the MTA host, where any local user can claim any
// envelope sender.
inline Reply local_denied() {
    return Reply::reject("5.7.1", "SMS not permitted for mail submitted on this host");
}
inline Reply auth_required() {
    return Reply::reject("5.7.1", "SMS requires SMTP authentication");
}
// sender_rules: this sender may not text this number or alias.
inline Reply destination_denied() {
    return Reply::reject("5.7.1", "Destination not permitted for this sender");
}
inline Reply country_denied() {
    return Reply::reject("5.7.1", "Destination country not permitted");
}
inline Reply number_type_denied(std::string_view type) {
    return Reply::reject("5.7.1",
                         "Destination number type not permitted (" + std::string(type) + ")");
}
inline Reply bad_number() {
    return Reply::reject("5.1.1", "Recipient is not a valid phone number");
}
inline Reply no_text() {
    return Reply::reject("5.6.0", "Message has no text to send as SMS");
}
inline Reply internal() {
    return Reply::tempfail("451", "4.3.0", "SMS gateway temporarily unavailable, try again later");
}
// Every SMS of a message refused for good by Twilio while end of message waited (eom_wait).
inline Reply twilio_refused(int code, std::string_view error) {
    std::string text = "SMS refused by Twilio";
    if (code) text += " (error " + std::to_string(code) + ")";
    text += ": ";
    for (char c : error.substr(0, 200)) text.push_back(c == '%' || c < 0x20 || c > 0x7e ? '?' : c);
    bool bad_number = code == 21211 || code == 21612 || code == 21614;
    return Reply::reject(bad_number ? "5.1.1" : "5.7.1", std::move(text));
}
// A rate limit (SPEC §4) is reached: the client may try again once the period has moved on.
inline Reply rate_limited(std::string_view key, std::string_view limit) {
    return Reply::tempfail("450", "4.7.1",
                           "SMS rate limit reached (" + std::string(key) + " " +
                               std::string(limit) + "), try again later");
}
inline Reply not_queued() {
    return Reply::tempfail("451", "4.3.0", "Cannot queue SMS now, try again later");
}
// shared_state_failure = tempfail and the relays' shared state (Redis) cannot be reached.
inline Reply shared_unavailable() {
    return Reply::tempfail("451", "4.3.0", "SMS gateway shared state unavailable, try again later");
}
// Another relay is queueing the same message right now (a client retry that overtook it).
inline Reply queued_elsewhere() {
    return Reply::tempfail("451", "4.3.0",
                           "The same message is being queued by another relay, try again later");
}
}  // namespace replies

}  // namespace smsm
