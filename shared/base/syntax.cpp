// Hand-written validators for config and table values (see syntax.h).
#include "shared/base/syntax.h"

#include <algorithm>

namespace smsm {

namespace {

constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxLabel = 63;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool all_digits(std::string_view s) {
    return std::all_of(s.begin(), s.end(), is_digit);
}

}  // namespace

bool is_dns_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxDnsName) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || label.size() > kMaxLabel || label.front() == '-' ||
            label.back() == '-')
            return false;
        if (!std::all_of(label.begin(), label.end(),
                         [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_prefixed_hex(std::string_view s, std::string_view prefix, std::size_t hex_digits) {
    if (s.size() != prefix.size() + hex_digits || s.substr(0, prefix.size()) != prefix)
        return false;
    std::string_view hex = s.substr(prefix.size());
    return std::all_of(hex.begin(), hex.end(), is_hex);
}

bool is_e164(std::string_view s) {
    return s.size() >= 3 && s.size() <= 16 && s[0] == '+' && s[1] != '0' && all_digits(s.substr(1));
}

bool is_twilio_sender(std::string_view s) {
    if (s.empty() || s.size() > 16) return false;
    if (s[0] == '+') return s.size() >= 8 && is_e164(s);
    if (all_digits(s)) return s.size() >= 3 && s.size() <= 8;
    return std::any_of(s.begin(), s.end(), is_alpha) && std::all_of(s.begin(), s.end(), [](char c) {
               return is_alpha(c) || is_digit(c) || c == ' ';
           });
}

bool is_milter_socket_spec(std::string_view s) {
    for (std::string_view kind : {"unix:", "local:"})
        if (s.substr(0, kind.size()) == kind)
            return s.size() > kind.size() + 1 && s[kind.size()] == '/';
    for (std::string_view kind : {"inet:", "inet6:"}) {
        if (s.substr(0, kind.size()) != kind) continue;
        std::string_view rest = s.substr(kind.size());
        std::size_t at = rest.find('@');
        std::string_view port = rest.substr(0, at);
        if (port.empty() || port.size() > 5 || !all_digits(port)) return false;
        return at == std::string_view::npos || at + 1 < rest.size();
    }
    return false;
}

}  // namespace smsm
