// What a milter_socket value means for the daemon: the file of a unix socket, and the warning
// an inet socket deserves (it has no authentication: any local user could speak the milter
// protocol to it, forge the client address, sender and SASL login, and text past every rule).
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// The file of a unix:/local: socket; empty for inet:/inet6:.
std::string unix_socket_path(std::string_view socket);

// Empty for a unix socket; otherwise one line saying why an inet socket is unsafe.
std::string inet_socket_warning(std::string_view socket);

}  // namespace smsm
