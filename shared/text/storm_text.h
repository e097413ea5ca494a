// What storm_window compares and what its summary quotes (SPEC §4). Two alerts are "the same
// text" when they differ only in numbers standing alone (counters, values, times, dates:
// "load 4.52 at 12:03:55" and "load 7.10 at 12:04:55"), in letter case or in white space.
// Digits inside a word (a host name such as web01, an ID such as 5xx) are significant, so
// alerts about web01 and web02 are never folded into one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smsm {

// The text as storm_window compares it.
std::string storm_fingerprint(std::string_view sms_text);

// The start of a text, for the summary SMS: at most kStormSampleChars characters, cut at a
// word boundary where one is near, with "..." when cut; newlines become spaces.
inline constexpr std::size_t kStormSampleChars = 60;
std::string storm_sample(std::string_view sms_text);

// The summary SMS sent when a storm window closes with alerts held back.
std::string storm_summary(std::int64_t held, std::int64_t window_seconds, std::string_view sample);

}  // namespace smsm
