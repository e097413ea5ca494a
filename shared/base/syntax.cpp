// Hand-written validators for config and table values (see syntax.h).
#include "shared/base/syntax.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace smsm {

namespace {

constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxUrl = 2048;

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

bool is_ipv4(std::string_view s) {
    if (s.size() > 15) return false;
    std::array<unsigned char, 4> out{};
    return inet_pton(AF_INET, std::string(s).c_str(), out.data()) == 1;
}

bool is_ipv6(std::string_view s) {
    if (s.size() > 45) return false;
    std::array<unsigned char, 16> out{};
    return inet_pton(AF_INET6, std::string(s).c_str(), out.data()) == 1;
}

// One path segment: letters, digits and "-._~" (RFC 3986 unreserved), not "." or "..".
bool is_path_segment(std::string_view seg) {
    if (seg.empty() || seg == "." || seg == "..") return false;
    return std::all_of(seg.begin(), seg.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
    });
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

std::string https_url_problem(std::string_view s) {
    if (s.size() > kMaxUrl) return "longer than 2048 characters";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return "white space, control or non-ASCII character";
        if (c == '\\') return "backslash";
    }
    constexpr std::string_view kScheme = "https://";
    if (s.substr(0, kScheme.size()) != kScheme) return "not https://";
    std::string_view rest = s.substr(kScheme.size());
    if (rest.find_first_of("?#") != std::string_view::npos) return "query or fragment";
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos) return "user name or password (\"user@\")";

    std::string_view host, port;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return "unclosed [ in the host";
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') return "bad host";
        if (!after.empty()) port = after.substr(1);
        if (!is_ipv6(host)) return "bad IPv6 address";
        if (!after.empty() && port.empty()) return "empty port";
    } else {
        std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return "empty port";
        }
        if (host.empty()) return "no host";
        // A last label of digits only is no DNS name: then it must be an IPv4 address.
        std::size_t last_dot = host.rfind('.');
        std::string_view last =
            last_dot == std::string_view::npos ? host : host.substr(last_dot + 1);
        if (all_digits(last) ? !is_ipv4(host) : !is_dns_name(host)) return "bad host name";
    }
    if (!port.empty()) {
        if (port.size() > 5 || !all_digits(port)) return "bad port";
        long n = std::stol(std::string(port));
        if (n < 1 || n > 65535) return "port out of range 1-65535";
    }
    if (!path.empty() && path != "/") {
        std::string_view p = path.substr(1);
        if (p.back() == '/') p.remove_suffix(1);
        for (std::size_t start = 0;;) {
            std::size_t next = p.find('/', start);
            if (!is_path_segment(
                    p.substr(start, next == std::string_view::npos ? p.npos : next - start)))
                return "bad path (letters, digits and -._~ between single slashes)";
            if (next == std::string_view::npos) break;
            start = next + 1;
        }
    }
    return "";
}

}  // namespace smsm
