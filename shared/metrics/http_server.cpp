// The Prometheus endpoint over libmicrohttpd; see http_server.h.
//
// Security: read only, no authentication (bind it to loopback, the default; see
// listen_address.h); no request body is read; only GET and HEAD of /metrics are answered.
#include "shared/metrics/http_server.h"

#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace smsm::metrics {

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result reply(MHD_Connection* conn, unsigned status, const std::string& body, const char* type) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

MHD_Result on_request(void* cls, MHD_Connection* conn, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* upload_data_size, void** /*con_cls*/) {
    const auto* render = static_cast<const HttpServer::Render*>(cls);
    if (*upload_data_size != 0) {  // a body: ignore it, answer at the end
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
               std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (std::strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
                     "text/plain; charset=utf-8");
    if (!get)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", "text/plain; charset=utf-8");
    try {
        return reply(conn, MHD_HTTP_OK, (*render)(), kContentType);
    } catch (const std::exception& e) {
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, std::string(e.what()) + "\n",
                     "text/plain; charset=utf-8");
    }
}

}  // namespace

void HttpServer::Deleter::operator()(MHD_Daemon* d) const {
    MHD_stop_daemon(d);
}

HttpServer::HttpServer(const ListenAddress& where, Render render) : render_(std::move(render)) {
    // No MHD_OPTION_LISTENING_ADDRESS_REUSE: it means SO_REUSEPORT, which would let a second
    // daemon bind the same port and take half the scrapes. MHD's own SO_REUSEADDR lets a
    // restart bind again at once.
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (where.ipv6) flags |= MHD_USE_IPv6;
    std::uint16_t port = where.ipv6
                             ? ntohs(reinterpret_cast<const sockaddr_in6*>(&where.addr)->sin6_port)
                             : ntohs(reinterpret_cast<const sockaddr_in*>(&where.addr)->sin_port);
    MHD_Daemon* d = MHD_start_daemon(
        flags, port, nullptr, nullptr, &on_request, &render_, MHD_OPTION_SOCK_ADDR,
        reinterpret_cast<const sockaddr*>(&where.addr), MHD_OPTION_CONNECTION_LIMIT,
        kMaxConnections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxConnections / 2,
        MHD_OPTION_CONNECTION_TIMEOUT, kTimeoutSeconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        static_cast<size_t>(32 * 1024), MHD_OPTION_END);
    if (!d) throw std::runtime_error(fmt::format("cannot listen: {}", std::strerror(errno)));
    daemon_.reset(d);
}

HttpServer::~HttpServer() = default;

}  // namespace smsm::metrics
