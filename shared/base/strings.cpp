// Small string helpers shared by the config parser, policy and logging.
#include "shared/base/strings.h"

#include <algorithm>
#include <ctime>

namespace smsm {

namespace {
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> items;
    std::string cur;
    for (char c : s) {
        if (c == ',' || is_space(c)) {
            if (!cur.empty()) items.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) items.push_back(std::move(cur));
    return items;
}

std::string printable(std::string_view s, std::size_t max_len) {
    std::string out;
    out.reserve(std::min(s.size(), max_len) + 3);
    for (char c : s.substr(0, std::min(s.size(), max_len))) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
    }
    if (s.size() > max_len) out += "...";
    return out;
}

namespace {
// Decodes one UTF-8 sequence at s[i]; returns its length (0: invalid) and sets cp.
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t& cp) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xe  ? 3
                      : (c >> 3) == 0x1e ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return 0;
    cp = len == 1 ? c : c & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(k) & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;  // overlong
    return len;
}

bool masked(char32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}
}  // namespace

std::string display_text(std::string_view s, std::size_t max_chars, std::string_view indent) {
    std::string out;
    std::size_t chars = 0, i = 0;
    while (i < s.size() && chars < max_chars) {
        char32_t cp = 0;
        std::size_t len = utf8_at(s, i, cp);
        if (len == 0) {
            out.push_back('?');
            len = 1;
        } else if (cp == '\n') {
            out.push_back('\n');
            out.append(indent);
        } else if (cp == '\r') {
            i += len;
            continue;
        } else if (masked(cp)) {
            out.push_back('?');
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
        ++chars;
    }
    if (i < s.size()) out += "...";
    return out;
}

std::string utc_time(std::int64_t unix_seconds, bool time_only) {
    std::time_t t = unix_seconds;
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, time_only ? "%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace smsm
