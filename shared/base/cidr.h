// IPv4/IPv6 networks in CIDR notation and address matching, for allowed_clients.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smsm {

struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

    // Parses "192.0.2.1", "2001:db8::1", "[::1]"; IPv4-mapped IPv6 becomes IPv4.
    static std::optional<IpAddress> parse(std::string_view text);
    std::string str() const;
};

struct Cidr {
    IpAddress net;
    unsigned prefix = 0;

    // Parses "10.0.0.0/8", "::1", "[2001:db8::]/32"; a bare address is a host route.
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& addr) const;
};

}  // namespace smsm
