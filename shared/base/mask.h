// Masking of phone numbers and SMS addresses for log lines (SPEC §8: masked by default).
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// "+14155551212" -> "+1415***1212". Short numbers keep less; nothing but digits is revealed.
std::string mask_number(std::string_view number);

// "<4155551212@sms.example.com>" -> "<***1212@sms.example.com>", also made printable.
std::string mask_address(std::string_view address);

}  // namespace smsm
