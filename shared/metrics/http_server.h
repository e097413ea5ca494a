// The Prometheus endpoint: GET /metrics over libmicrohttpd, served by one internal thread of
// its own (never a milter thread), with a small connection limit and a connection timeout,
// so a slow or greedy scraper costs the milter nothing but that thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "shared/metrics/listen_address.h"

struct MHD_Daemon;

namespace smsm::metrics {

class HttpServer {
  public:
    using Render = std::function<std::string()>;  // the body of GET /metrics
    // Listens now; throws std::runtime_error when it cannot.
    HttpServer(const ListenAddress& where, Render render);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    static constexpr unsigned kMaxConnections = 8;
    static constexpr unsigned kTimeoutSeconds = 10;

  private:
    struct Deleter {
        void operator()(MHD_Daemon* d) const;
    };
    Render render_;
    std::unique_ptr<MHD_Daemon, Deleter> daemon_;
};

}  // namespace smsm::metrics
