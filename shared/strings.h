// Small string helpers shared by the config parser, policy and logging.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smsm {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Splits a Postfix-style list: items separated by commas and/or white space.
std::vector<std::string> split_list(std::string_view s);

// Makes untrusted text safe for a log line (Postfix printable()): control and non-ASCII bytes
// become '?', and the result is cut at max_len bytes with "..." appended.
std::string printable(std::string_view s, std::size_t max_len = 256);

}  // namespace smsm
