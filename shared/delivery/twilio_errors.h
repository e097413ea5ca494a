// The meaning, in words, of the Twilio error codes a message can end with (the 300xx carrier
// and delivery codes, and a few others), for logs, failure notices and `sms-milter queue`.
#pragma once

#include <string>

namespace smsm {

// "message filtered by the carrier (spam filter; common for unregistered 10DLC traffic)"
// for 30007; for a code not in the table, a pointer to Twilio's page about it.
std::string twilio_error_meaning(int code);

// "30007: message filtered by the carrier (...)"; "no error code" for 0.
std::string twilio_error_text(int code);

}  // namespace smsm
