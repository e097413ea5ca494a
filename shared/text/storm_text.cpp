// Storm fingerprints and summaries; see storm_text.h for what counts as the same text.
#include "shared/text/storm_text.h"

#include <fmt/format.h>

#include "shared/text/segments.h"

namespace smsm {

namespace {

bool is_digit(char32_t c) {
    return c >= U'0' && c <= U'9';
}
// A letter for this purpose: ASCII letters and anything beyond ASCII (accented letters,
// other scripts); digits next to one belong to a word.
bool is_letter(char32_t c) {
    return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || c == U'_' || c > 0x7f;
}
bool is_space(char32_t c) {
    return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' ||
           c == 0xa0;
}

std::string window_text(std::int64_t s) {
    if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
    if (s % 60 == 0) return fmt::format("{}m", s / 60);
    return fmt::format("{}s", s);
}

}  // namespace

std::string storm_fingerprint(std::string_view sms_text) {
    std::u32string in = utf8_to_u32(sms_text);
    std::u32string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size();) {
        char32_t c = in[i];
        if (is_space(c)) {
            while (i < in.size() && is_space(in[i])) ++i;
            if (!out.empty()) out += U' ';
            continue;
        }
        if (is_digit(c)) {
            std::size_t end = i;
            while (end < in.size() && is_digit(in[end])) ++end;
            bool in_word =
                (i > 0 && is_letter(in[i - 1])) || (end < in.size() && is_letter(in[end]));
            if (in_word)
                out.append(in, i, end - i);
            else
                out += U'#';
            i = end;
            continue;
        }
        out += c >= U'A' && c <= U'Z' ? c - U'A' + U'a' : c;
        ++i;
    }
    while (!out.empty() && out.back() == U' ') out.pop_back();
    return u32_to_utf8(out);
}

std::string storm_sample(std::string_view sms_text) {
    std::u32string in = utf8_to_u32(sms_text);
    std::u32string out;
    for (char32_t c : in) {
        if (is_space(c)) {
            if (!out.empty() && out.back() != U' ') out += U' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == U' ') out.pop_back();
    if (out.size() <= kStormSampleChars) return u32_to_utf8(out);
    out.resize(kStormSampleChars);
    if (auto space = out.rfind(U' ');
        space != std::u32string::npos && space > kStormSampleChars / 2)
        out.resize(space);
    return u32_to_utf8(out) + "...";
}

std::string storm_summary(std::int64_t held, std::int64_t window_seconds, std::string_view sample) {
    return fmt::format("{} more alert{} like this within {} not sent (storm_window). Latest: {}",
                       held, held == 1 ? "" : "s", window_text(window_seconds), sample);
}

}  // namespace smsm
