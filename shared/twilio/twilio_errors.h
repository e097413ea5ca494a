// Twilio's error codes as sms-milter treats them: which ones are worth another try, which
// are configuration errors, and each known code's meaning in words (for logs, failure
// notices, delivery status and `sms-milter queue`). Codes Twilio reports at create time and
// codes it reports later on the message (status failed/undelivered: 30001, 14107, 300xx) are
// both here.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// A create refused with this code may succeed later unchanged: 20429 (too many requests,
// whatever the HTTP status), 21611 (the sender's queue at Twilio is full).
bool twilio_code_is_temporary(int code);

// The credentials, or what they may do, are wrong: 20003 (authentication), 70051 (a
// restricted API key without the permission). The job is kept; the admin must act.
bool twilio_code_is_auth(int code);

// The code's meaning in a few words, e.g. "message filtered by the carrier (...)" for 30007;
// empty when it is not in the table.
std::string_view twilio_error_meaning(int code);

// "30007: message filtered by the carrier (...)"; for a code not in the table, a pointer to
// Twilio's page about it; "no error code" for 0.
std::string twilio_error_text(int code);

}  // namespace smsm
