// Splitting an envelope address into local part and domain.
#include "shared/policy/address.h"

#include "shared/base/strings.h"

namespace smsm {

namespace {
std::string_view strip(std::string_view raw) {
    raw = trim(raw);
    if (raw.size() >= 2 && raw.front() == '<' && raw.back() == '>')
        raw = raw.substr(1, raw.size() - 2);
    // Drop an RFC 5321 source route: "@a,@b:user@domain".
    if (!raw.empty() && raw.front() == '@') {
        auto colon = raw.find(':');
        if (colon != std::string_view::npos) raw.remove_prefix(colon + 1);
    }
    return raw;
}
}  // namespace

std::optional<Address> parse_address(std::string_view raw) {
    std::string_view s = strip(raw);
    auto at = s.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return std::nullopt;
    std::string_view local = s.substr(0, at);
    if (local.size() >= 2 && local.front() == '"' && local.back() == '"')
        local = local.substr(1, local.size() - 2);
    std::string domain = to_lower(s.substr(at + 1));
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    return Address{std::string(local), std::move(domain)};
}

std::string bare_address(std::string_view raw) {
    return to_lower(strip(raw));
}

std::string envelope_address(std::string_view raw) {
    return std::string(strip(raw));
}

std::string bracketed(std::string_view raw) {
    return !raw.empty() && raw.front() == '<' ? std::string(raw) : "<" + std::string(raw) + ">";
}

std::string strip_address_comments(std::string_view raw) {
    std::string out;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '\\' && i + 1 < raw.size()) {  // an escaped character, in or out of a comment
            if (depth == 0) out.append(raw.substr(i, 2));
            ++i;
        } else if (quoted) {
            out.push_back(c);
            quoted = c != '"';
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && depth > 0) {
            --depth;
        } else if (depth == 0) {
            out.push_back(c);
            quoted = c == '"';
        }
    }
    return out;
}

}  // namespace smsm
