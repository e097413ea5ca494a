// metrics_listen values; see listen_address.h.
#include "shared/metrics/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace smsm::metrics {

std::optional<ListenAddress> parse_listen_address(std::string_view value) {
    auto colon = value.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = value.substr(0, colon), port_text = value.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
        return std::nullopt;
    ListenAddress a;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        std::string h(host.substr(1, host.size() - 2));
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(static_cast<std::uint16_t>(port));
        if (::inet_pton(AF_INET6, h.c_str(), &sa.sin6_addr) != 1) return std::nullopt;
        a.ipv6 = true;
        a.loopback = IN6_IS_ADDR_LOOPBACK(&sa.sin6_addr);
        std::memcpy(&a.addr, &sa, sizeof sa);
        a.len = sizeof sa;
    } else {
        std::string h(host);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::inet_pton(AF_INET, h.c_str(), &sa.sin_addr) != 1) return std::nullopt;
        a.loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
        std::memcpy(&a.addr, &sa, sizeof sa);
        a.len = sizeof sa;
    }
    return a;
}

std::string listen_warning(std::string_view value) {
    auto a = parse_listen_address(value);
    if (!a || a->loopback) return "";
    return "metrics_listen " + std::string(value) +
           " is not a loopback address: the metrics endpoint has no authentication, so "
           "anyone who can reach it can read the metrics (restrict it with a firewall)";
}

}  // namespace smsm::metrics
