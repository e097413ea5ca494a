// A Redis connection with deadlines; see redis_conn.h.
#include "shared/shared_state/redis_conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smsm {

namespace {

int ms_left(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

std::string ssl_error() {
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown TLS error";
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

}  // namespace

RedisEndpoint make_redis_endpoint(const RedisUrl& url, const std::string& password,
                                  const std::string& ca_file) {
    RedisEndpoint ep;
    ep.url = url;
    ep.password = password;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(url.port);
    if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0)
        throw std::runtime_error(
            fmt::format("shared_state: cannot look up {}: {}", url.host, ::gai_strerror(rc)));
    std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
    ep.addr_len = res->ai_addrlen;
    ::freeaddrinfo(res);
    if (url.tls) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) throw std::runtime_error("shared_state: " + ssl_error());
        ep.tls.reset(ctx, SSL_CTX_free);
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        bool ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
        if (!ca_file.empty())
            ok = SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1;
        if (!ok)
            throw std::runtime_error(
                fmt::format("shared_state: cannot load the CA certificates: {}", ssl_error()));
    }
    return ep;
}

RedisConn::RedisConn(const RedisEndpoint& ep, Deadline deadline) {
    fd_ = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw RedisError(fmt::format("socket: {}", std::strerror(errno)));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw RedisError(fmt::format("connect: {}", std::strerror(e)));
        }
        try {
            wait_io(true, deadline);
        } catch (...) {
            close_all();
            throw;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            close_all();
            throw RedisError(fmt::format("connect: {}", std::strerror(err)));
        }
    }
    reader_ = redisReaderCreate();
    if (!reader_) {
        ::close(fd_);
        fd_ = -1;
        throw RedisError("out of memory");
    }
    try {
        if (ep.tls) {
            ssl_ = SSL_new(ep.tls.get());
            if (!ssl_) throw RedisError(ssl_error());
            SSL_set_fd(ssl_, fd_);
            // An address is checked against the certificate's IP addresses and is not sent
            // as SNI (RFC 6066 allows names only); a name against its DNS names. Without the
            // check in place there is no connection.
            const char* host = ep.url.host.c_str();
            bool checked = false;
            if (in6_addr a6{};
                ::inet_pton(AF_INET6, host, &a6) == 1 || ::inet_pton(AF_INET, host, &a6) == 1)
                checked = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host) == 1;
            else
                checked =
                    SSL_set_tlsext_host_name(ssl_, host) == 1 && SSL_set1_host(ssl_, host) == 1;
            if (!checked) throw RedisError("TLS: cannot set the name to verify: " + ssl_error());
            while (true) {
                ERR_clear_error();
                int rc = SSL_connect(ssl_);
                if (rc == 1) break;
                int e = SSL_get_error(ssl_, rc);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    wait_io(e == SSL_ERROR_WANT_WRITE, deadline);
                    continue;
                }
                long verify = SSL_get_verify_result(ssl_);
                std::string why = ssl_error();  // empties the queue either way
                throw RedisError(verify != X509_V_OK
                                     ? fmt::format("TLS: certificate not trusted: {}",
                                                   X509_verify_cert_error_string(verify))
                                     : fmt::format("TLS handshake: {}", why));
            }
        }
        std::vector<RedisCommand> hello;
        if (!ep.password.empty()) hello.push_back({"AUTH", ep.password});
        if (ep.url.db != 0) hello.push_back({"SELECT", std::to_string(ep.url.db)});
        auto replies = run(hello, deadline);
        for (std::size_t i = 0; i < replies.size(); ++i)
            if (replies[i]->type == REDIS_REPLY_ERROR)  // the command's name, never its password
                throw RedisError(
                    fmt::format("{} refused: {}", hello[i][0],
                                std::string(replies[i]->str, replies[i]->len).substr(0, 200)));
    } catch (...) {
        close_all();
        throw;
    }
}

RedisConn::~RedisConn() {
    close_all();
}

void RedisConn::close_all() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (reader_) redisReaderFree(reader_);
    reader_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void RedisConn::wait_io(bool for_write, Deadline deadline) {
    pollfd p{fd_, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    while (true) {
        int left = ms_left(deadline);
        if (left == 0) throw RedisError("timed out");
        int rc = ::poll(&p, 1, left);
        if (rc > 0) return;
        if (rc == 0) throw RedisError("timed out");
        if (errno != EINTR) throw RedisError(fmt::format("poll: {}", std::strerror(errno)));
    }
}

void RedisConn::send_all(const std::string& bytes, Deadline deadline) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const char* p = bytes.data() + done;
        int len = static_cast<int>(std::min<std::size_t>(bytes.size() - done, 1 << 20));
        if (ssl_) {
            ERR_clear_error();  // see receive()
            int rc = SSL_write(ssl_, p, len);
            if (rc > 0) {
                done += static_cast<std::size_t>(rc);
                continue;
            }
            int e = SSL_get_error(ssl_, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                throw RedisError(fmt::format("TLS write: {}", ssl_error()));
            wait_io(e == SSL_ERROR_WANT_WRITE, deadline);
        } else {
            ssize_t rc = ::send(fd_, p, static_cast<std::size_t>(len), MSG_NOSIGNAL);
            if (rc > 0) {
                done += static_cast<std::size_t>(rc);
                continue;
            }
            if (rc < 0 && errno != EAGAIN && errno != EINTR)
                throw RedisError(fmt::format("write: {}", std::strerror(errno)));
            wait_io(true, deadline);
        }
    }
}

std::size_t RedisConn::receive(char* buf, std::size_t len, Deadline deadline) {
    while (true) {
        if (ssl_) {
            // SSL_get_error() reads this thread's error queue first: an error left there by
            // another user of OpenSSL (libcurl in the sender thread) would turn WANT_READ into
            // a failure, and Redis would count as down.
            ERR_clear_error();
            int rc = SSL_read(ssl_, buf, static_cast<int>(len));
            if (rc > 0) return static_cast<std::size_t>(rc);
            int e = SSL_get_error(ssl_, rc);
            if (e == SSL_ERROR_ZERO_RETURN) throw RedisError("connection closed");
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                throw RedisError(fmt::format("TLS read: {}", ssl_error()));
            wait_io(e == SSL_ERROR_WANT_WRITE, deadline);
        } else {
            ssize_t rc = ::recv(fd_, buf, len, 0);
            if (rc > 0) return static_cast<std::size_t>(rc);
            if (rc == 0) throw RedisError("connection closed");
            if (errno != EAGAIN && errno != EINTR)
                throw RedisError(fmt::format("read: {}", std::strerror(errno)));
            wait_io(false, deadline);
        }
    }
}

std::vector<RedisReply> RedisConn::run(const std::vector<RedisCommand>& cmds, Deadline deadline) {
    std::vector<RedisReply> out;
    if (cmds.empty()) return out;
    std::string bytes;
    for (const auto& cmd : cmds) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : cmd) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        char* formatted = nullptr;
        long long n = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(),
                                             lens.data());
        if (n < 0 || !formatted) throw RedisError("cannot format a command");
        bytes.append(formatted, static_cast<std::size_t>(n));
        redisFreeCommand(formatted);
    }
    send_all(bytes, deadline);
    char buf[16384];
    while (out.size() < cmds.size()) {
        void* reply = nullptr;
        if (redisReaderGetReply(reader_, &reply) != REDIS_OK)
            throw RedisError(fmt::format("protocol error: {}", reader_->errstr));
        if (reply) {
            out.emplace_back(static_cast<redisReply*>(reply));
            continue;
        }
        std::size_t n = receive(buf, sizeof buf, deadline);
        if (redisReaderFeed(reader_, buf, n) != REDIS_OK)
            throw RedisError(fmt::format("protocol error: {}", reader_->errstr));
    }
    return out;
}

RedisReply RedisConn::run(const RedisCommand& cmd, Deadline deadline) {
    return std::move(run(std::vector<RedisCommand>{cmd}, deadline).front());
}

}  // namespace smsm
