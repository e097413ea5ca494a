// Masking of phone numbers and SMS addresses for log lines (SPEC §8: masked by default).
#include "shared/base/mask.h"

#include "shared/base/strings.h"

namespace smsm {

namespace {

constexpr std::size_t kMinTextDigits = 7;  // shorter digit runs are codes, statuses, counts
constexpr std::size_t kMaxSeparators = 2;  // between two digits: ") " in "(415) 555-0100"

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_separator(char c) {
    return c == ' ' || c == '-' || c == '(' || c == ')';
}
// Part of a word: a digit run next to one is a SID, a hash or a unit, not a number.
bool is_word(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

// Keeps `head` leading and `tail` trailing characters, replacing the middle with "***".
std::string keep_ends(std::string_view s, std::size_t head, std::size_t tail) {
    if (s.size() <= head + tail) return std::string(s.size(), '*');
    return std::string(s.substr(0, head)) + "***" + std::string(s.substr(s.size() - tail));
}
}  // namespace

std::string mask_number(std::string_view number) {
    if (number.size() >= 10) return keep_ends(number, 5, 4);
    if (number.size() >= 6) return keep_ends(number, 2, 2);
    return std::string(number.size(), '*');
}

std::string mask_address(std::string_view address) {
    auto at = address.rfind('@');
    std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
    std::string_view rest = at == std::string_view::npos ? std::string_view{} : address.substr(at);
    std::string lead;
    if (!local.empty() && local.front() == '<') {
        lead = "<";
        local.remove_prefix(1);
    }
    // The local part may be a national number: keep only its last four characters.
    std::string masked =
        local.size() >= 8 ? "***" + std::string(local.substr(local.size() - 4)) : "***";
    return printable(lead + masked + std::string(rest));
}

std::string mask_numbers_in_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        // '+', or "%2B" as in a URL's query (To=%2B14155550100)
        std::size_t plus_len = c == '+'                                                   ? 1
                               : text.substr(i, 3) == "%2B" || text.substr(i, 3) == "%2b" ? 3
                                                                                          : 0;
        bool next_digit = i + 1 < text.size() && is_digit(text[i + 1]);
        bool after_word = i > 0 && is_word(text[i - 1]);
        bool plus = plus_len > 0 && i + plus_len < text.size() && is_digit(text[i + plus_len]);
        bool starts = plus || (!after_word && (is_digit(c) || (c == '(' && next_digit)));
        if (!starts) {
            out.push_back(c);
            ++i;
            continue;
        }
        // The run: digits with at most kMaxSeparators separators between two of them; it
        // ends after its last digit.
        std::string digits;
        std::size_t end = i, seps = 0;
        for (std::size_t j = plus ? i + plus_len : i; j < text.size(); ++j) {
            if (is_digit(text[j])) {
                digits.push_back(text[j]);
                end = j + 1;
                seps = 0;
            } else if (!is_separator(text[j]) || ++seps > kMaxSeparators) {
                break;
            }
        }
        bool in_word = !plus && end < text.size() && is_word(text[end]);
        if (digits.size() >= kMinTextDigits && !in_word)
            out += plus ? mask_number("+" + digits) : "***" + digits.substr(digits.size() - 4);
        else
            out.append(text.substr(i, end - i));
        i = end;
    }
    return out;
}

}  // namespace smsm
