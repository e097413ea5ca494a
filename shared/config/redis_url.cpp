// Parsing of the shared_state URL; see redis_url.h.
#include "shared/config/redis_url.h"

#include <fmt/format.h>

#include <charconv>

#include "shared/base/syntax.h"

namespace smsm {

namespace {
std::optional<int> number(std::string_view v, int max) {
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n < 0 || n > max)
        return std::nullopt;
    return n;
}
}  // namespace

std::string RedisUrl::str() const {
    bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}/{}", tls ? "rediss" : "redis", v6 ? "[" : "", host,
                       v6 ? "]" : "", port, db);
}

std::optional<RedisUrl> parse_redis_url(std::string_view v) {
    RedisUrl u;
    if (v.starts_with("redis://")) {
        v.remove_prefix(8);
    } else if (v.starts_with("rediss://")) {
        u.tls = true;
        v.remove_prefix(9);
    } else {
        return std::nullopt;
    }
    auto slash = v.find('/');
    std::string_view authority = v.substr(0, slash);
    if (slash != std::string_view::npos) {
        auto db = number(v.substr(slash + 1), 15);
        if (!db && !v.substr(slash + 1).empty()) return std::nullopt;
        u.db = db.value_or(0);
    }
    if (authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view port;
    if (authority.starts_with("[")) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = authority.substr(1, close - 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(":")) return std::nullopt;
        if (!rest.empty()) port = rest.substr(1);
        if (u.host.find(':') == std::string::npos) return std::nullopt;
    } else {
        auto colon = authority.find(':');
        u.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        if (!is_dns_name(u.host)) return std::nullopt;
    }
    if (u.host.empty()) return std::nullopt;
    if (!port.empty() || authority.ends_with(":")) {
        auto p = number(port, 65535);
        if (!p || *p == 0) return std::nullopt;
        u.port = *p;
    }
    return u;
}

}  // namespace smsm
