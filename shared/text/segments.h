// SMS encoding and segment arithmetic as carriers do it (SPEC §6): GSM-7 (basic table plus
// the extension table, whose characters cost two septets) or UCS-2 (UTF-16 code units);
// 160/153 septets or 70/67 units per segment, a character never split across segments.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

enum class Encoding { Gsm7, Ucs2 };

const char* encoding_name(Encoding e);  // "GSM-7", "UCS-2"

struct SegmentCount {
    Encoding encoding = Encoding::Gsm7;
    int segments = 0;       // 0 for empty text
    std::size_t units = 0;  // septets (GSM-7) or UTF-16 code units (UCS-2)
};

// Septets a code point costs in GSM-7: 1 (basic), 2 (extension) or 0 (not representable).
int gsm7_cost(char32_t cp);

SegmentCount count_segments(std::string_view utf8);

// Cuts text so that it fits max_segments, preferring a word boundary, and appends a visible
// marker ("..."). Text that fits is returned unchanged. The result also stays within
// Twilio's 1600 characters.
std::string fit_segments(std::string_view utf8, int max_segments);

// Decodes UTF-8 (invalid bytes become U+FFFD) and encodes back.
std::u32string utf8_to_u32(std::string_view s);
std::string u32_to_utf8(std::u32string_view s);

}  // namespace smsm
