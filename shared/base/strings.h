// Small string helpers shared by the config parser, policy and logging.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smsm {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Splits a Postfix-style list: items separated by commas and/or white space.
std::vector<std::string> split_list(std::string_view s);

// A time (unix seconds) in UTC: "2026-12-01T12:00:00Z", or with time_only "12:00:00Z".
std::string utc_time(std::int64_t unix_seconds, bool time_only = false);

// Makes untrusted text safe for a log line (Postfix printable()): control and non-ASCII bytes
// become '?', and the result is cut at max_len bytes with "..." appended.
std::string printable(std::string_view s, std::size_t max_len = 256);

// Multi-line UTF-8 text shown to a person (the SMS text in `queue show` and in failure
// notices): line breaks stay line breaks, each following line starts with `indent`; other
// control characters (C0, DEL, C1, bidi overrides, CR dropped), invalid UTF-8 and line or
// paragraph separators are masked as '?'. Cut at max_chars code points, with "..." appended.
std::string display_text(std::string_view s, std::size_t max_chars, std::string_view indent);

}  // namespace smsm
