// milter_socket values: unix socket files and the inet warning.
#include "shared/config/milter_socket.h"

#include <fmt/format.h>

namespace smsm {

std::string unix_socket_path(std::string_view socket) {
    for (std::string_view prefix : {"unix:", "local:"})
        if (socket.substr(0, prefix.size()) == prefix)
            return std::string(socket.substr(prefix.size()));
    return {};
}

std::string inet_socket_warning(std::string_view socket) {
    if (!unix_socket_path(socket).empty()) return {};
    return fmt::format(
        "milter_socket {} is an inet socket: any local user can connect to it, claim any "
        "client, sender and SASL login, and send SMS past every policy; use a unix socket "
        "(e.g. unix:/run/sms-milter/sms-milter.sock) that only the MTA's group can reach",
        socket);
}

}  // namespace smsm
