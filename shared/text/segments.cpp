// SMS encoding and segment arithmetic (GSM 03.38 tables, 3GPP TS 23.040 concatenation).
#include "shared/text/segments.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace smsm {

namespace {

// GSM 03.38 basic character set, as Unicode code points.
constexpr char32_t kGsmBasic[] = {
    U'@', U'£', U'$', U'¥', U'è', U'é', U'ù', U'ì', U'ò',  U'Ç', U'\n', U'Ø', U'ø', U'\r', U'Å',
    U'å', U'Δ', U'_', U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ',  U'Σ', U'Θ',  U'Ξ', U'Æ', U'æ',  U'ß',
    U'É', U' ', U'!', U'"', U'#', U'¤', U'%', U'&', U'\'', U'(', U')',  U'*', U'+', U',',  U'-',
    U'.', U'/', U'0', U'1', U'2', U'3', U'4', U'5', U'6',  U'7', U'8',  U'9', U':', U';',  U'<',
    U'=', U'>', U'?', U'¡', U'A', U'B', U'C', U'D', U'E',  U'F', U'G',  U'H', U'I', U'J',  U'K',
    U'L', U'M', U'N', U'O', U'P', U'Q', U'R', U'S', U'T',  U'U', U'V',  U'W', U'X', U'Y',  U'Z',
    U'Ä', U'Ö', U'Ñ', U'Ü', U'§', U'¿', U'a', U'b', U'c',  U'd', U'e',  U'f', U'g', U'h',  U'i',
    U'j', U'k', U'l', U'm', U'n', U'o', U'p', U'q', U'r',  U's', U't',  U'u', U'v', U'w',  U'x',
    U'y', U'z', U'ä', U'ö', U'ñ', U'ü', U'à',
};
// The extension table: escape plus one septet.
constexpr char32_t kGsmExtension[] = {U'\f', U'^', U'{', U'}', U'\\', U'[', U'~', U']', U'|', U'€'};

constexpr int kGsmSingle = 160, kGsmPart = 153, kUcsSingle = 70, kUcsPart = 67;
constexpr std::size_t kTwilioMaxChars = 1600;
constexpr std::string_view kMarker = "...";

int ucs2_cost(char32_t cp) {
    return cp > 0xFFFF ? 2 : 1;
}

// Segments needed for a sequence of per-character costs, never splitting a character.
int segments_for(const std::u32string& text, int (*cost)(char32_t), int single, int part,
                 std::size_t& units) {
    units = 0;
    for (char32_t c : text) units += static_cast<std::size_t>(cost(c));
    if (units == 0) return 0;
    if (units <= static_cast<std::size_t>(single)) return 1;
    int segments = 1, used = 0;
    for (char32_t c : text) {
        int n = cost(c);
        if (used + n > part) {
            ++segments;
            used = 0;
        }
        used += n;
    }
    return segments;
}

bool is_gsm(const std::u32string& text) {
    return std::all_of(text.begin(), text.end(), [](char32_t c) { return gsm7_cost(c) > 0; });
}

std::size_t utf16_length(const std::u32string& text) {
    std::size_t n = 0;
    for (char32_t c : text) n += static_cast<std::size_t>(ucs2_cost(c));
    return n;
}

}  // namespace

const char* encoding_name(Encoding e) {
    return e == Encoding::Gsm7 ? "GSM-7" : "UCS-2";
}

int gsm7_cost(char32_t cp) {
    // Every character of the tables but the euro sign is below U+0400: one look-up, not a
    // search through them for each character of each text.
    static const auto below_0400 = [] {
        std::array<std::uint8_t, 0x400> cost{};
        for (char32_t c : kGsmBasic) cost.at(c) = 1;
        for (char32_t c : kGsmExtension)
            if (c < cost.size()) cost[c] = 2;
        return cost;
    }();
    if (cp < below_0400.size()) return below_0400[cp];
    return cp == U'€' ? 2 : 0;
}

SegmentCount count_segments(std::string_view utf8) {
    std::u32string text = utf8_to_u32(utf8);
    SegmentCount c;
    if (is_gsm(text)) {
        c.encoding = Encoding::Gsm7;
        c.segments = segments_for(text, gsm7_cost, kGsmSingle, kGsmPart, c.units);
    } else {
        c.encoding = Encoding::Ucs2;
        c.segments = segments_for(text, ucs2_cost, kUcsSingle, kUcsPart, c.units);
    }
    return c;
}

std::string fit_segments(std::string_view utf8, int max_segments) {
    std::u32string text = utf8_to_u32(utf8);
    auto fits = [&](const std::u32string& t) {
        return count_segments(u32_to_utf8(t)).segments <= max_segments &&
               utf16_length(t) <= kTwilioMaxChars;
    };
    if (fits(text)) return u32_to_utf8(text);  // also makes invalid UTF-8 valid (U+FFFD)
    const std::u32string marker = utf8_to_u32(kMarker);
    // Longest prefix that fits with the marker (binary search: cost grows with length).
    std::size_t lo = 0, hi = std::min(text.size(), kTwilioMaxChars);
    while (lo < hi) {
        std::size_t mid = (lo + hi + 1) / 2;
        if (fits(text.substr(0, mid) + marker))
            lo = mid;
        else
            hi = mid - 1;
    }
    std::size_t cut = lo;
    // Back off to a word boundary when one is near (within a fifth of the kept text).
    std::size_t space = text.find_last_of(U" \n", cut);
    if (cut < text.size() && space != std::u32string::npos && space > cut - cut / 5) cut = space;
    std::u32string kept = text.substr(0, cut);
    while (!kept.empty() && (kept.back() == U' ' || kept.back() == U'\n')) kept.pop_back();
    return u32_to_utf8(kept + marker);
}

// ICU's UTF-8 macros: an ill-formed sequence (overlong, surrogate, out of range, cut short)
// becomes one U+FFFD per maximal ill-formed subpart, as Unicode recommends.
std::u32string utf8_to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto length = static_cast<std::int32_t>(std::min<std::size_t>(s.size(), INT32_MAX));
    for (std::int32_t i = 0; i < length;) {
        UChar32 c = 0;
        U8_NEXT(p, i, length, c);
        out.push_back(c < 0 ? U'\uFFFD' : static_cast<char32_t>(c));
    }
    return out;
}

std::string u32_to_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = U'\uFFFD';
        std::uint8_t buf[U8_MAX_LENGTH];
        std::int32_t n = 0;
        U8_APPEND_UNSAFE(buf, n, static_cast<UChar32>(c));
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace smsm
