// Hand-written validators for config and table values: DNS names, Twilio SIDs, sender IDs,
// milter socket specs and the Twilio API URL.
//
// Security: every value comes from a file an admin (or whoever can write it) controls and may
// be as long as a config line. No std::regex here: its backtracking matcher recurses once per
// character and overflowed the stack (SIGSEGV) on a 60,000-character value. These run in
// linear time and constant stack on any input.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// A host name: dot-separated labels of letters, digits and '-' (not first or last in a
// label), each 1 to 63 characters, 253 at most in all; no trailing dot.
bool is_dns_name(std::string_view s);

// `prefix` followed by exactly `hex_digits` hexadecimal digits ("AC" + 32 for an account SID).
bool is_prefixed_hex(std::string_view s, std::string_view prefix, std::size_t hex_digits);

// `+` then 2 to 15 digits, the first not 0 (E.164).
bool is_e164(std::string_view s);

// A Twilio sender: +E.164 of 8 to 16 characters, a short code of 3 to 8 digits, or an
// alphanumeric sender ID (letters, digits and spaces with at least one letter).
bool is_twilio_sender(std::string_view s);

// libmilter socket syntax as sms-milter accepts it: inet:PORT[@HOST], inet6:PORT[@HOST]
// (PORT 1 to 5 digits) or unix:/PATH, local:/PATH.
bool is_milter_socket_spec(std::string_view s);

// The Twilio API base URL: https://HOST[:PORT][/PATH], HOST a DNS name, an IPv4 address or
// an IPv6 address in brackets, PORT 1 to 65535, PATH segments of letters, digits and
// "-._~" (one trailing '/' allowed). No user name or password ("user@"), query, fragment,
// backslash, white space, control or non-ASCII character. Returns what is wrong, or an empty
// string when the URL is acceptable.
std::string https_url_problem(std::string_view s);

}  // namespace smsm
