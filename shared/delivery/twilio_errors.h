// Twilio's error codes as sms-milter treats them: which ones are worth another try, which
// are configuration errors, and each known code's meaning in words (for logs, failure
// notices and delivery status). Codes Twilio reports at create time and codes it reports
// later on the message (status failed/undelivered: 30001, 14107, 3000x) are both here.
#pragma once

#include <string_view>

namespace smsm {

// A create refused with this code may succeed later unchanged: 20429 (too many requests,
// whatever the HTTP status), 21611 (the sender's queue at Twilio is full).
bool twilio_code_is_temporary(int code);

// The credentials, or what they may do, are wrong: 20003 (authentication), 70051 (a
// restricted API key without the permission). The job is kept; the admin must act.
bool twilio_code_is_auth(int code);

// The code's meaning in a few words; empty when it is not in the table.
std::string_view twilio_error_meaning(int code);

}  // namespace smsm
