// The `shared_state` value: redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS). HOST is a
// name, an IPv4 address or a bracketed IPv6 address; PORT defaults to 6379, DB to 0.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smsm {

struct RedisUrl {
    bool tls = false;
    std::string host;  // without brackets
    int port = 6379;
    int db = 0;
    std::string str() const;  // as written back, for logs
};

// Nothing when the value is not such a URL; user info (a password in the URL) is refused:
// the password lives in shared_state_password_file.
std::optional<RedisUrl> parse_redis_url(std::string_view v);

}  // namespace smsm
