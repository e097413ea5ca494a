// metrics_listen values: "IPV4:PORT" or "[IPV6]:PORT", numeric only (no name lookups at
// start), and whether the address is loopback (anything else deserves a warning: the
// endpoint has no authentication).
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace smsm::metrics {

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    bool ipv6 = false;
    bool loopback = false;
};

// Nothing when the value is not a numeric address with a port from 1 to 65535.
std::optional<ListenAddress> parse_listen_address(std::string_view value);

// Empty for a loopback address; otherwise one line saying why it deserves care.
std::string listen_warning(std::string_view value);

}  // namespace smsm::metrics
