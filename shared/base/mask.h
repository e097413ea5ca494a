// Masking of phone numbers and SMS addresses for log lines (SPEC §8: masked by default).
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// "+14155551212" -> "+1415***1212". Short numbers keep less; nothing but digits is revealed.
std::string mask_number(std::string_view number);

// "<4155551212@sms.example.com>" -> "<***1212@sms.example.com>", also made printable.
std::string mask_address(std::string_view address);

// Masks every phone number quoted inside a free text, such as Twilio's error messages ("The
// 'To' number +14155550100 is not a valid phone number." -> "... +1415***0100 ..."): a '+'
// followed by digits, or a run of digits standing alone, with single spaces, '-', '(' or ')'
// between them, holding 7 or more digits. A number with '+' is masked as mask_number does
// (written without its separators), one without keeps only its last four digits. Error codes
// (21211), HTTP statuses, times, IP addresses and digits inside words (SIDs) stay as they are.
std::string mask_numbers_in_text(std::string_view text);

}  // namespace smsm
