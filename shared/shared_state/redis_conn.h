// One connection to Redis, every step bounded by a deadline. hiredis formats the commands
// (redisFormatCommandArgv) and parses the replies (redisReader); the bytes go over a socket of
// our own, in plain TCP or through OpenSSL for rediss://, because Debian 12's hiredis (0.14)
// has no TLS (hiredis_ssl came with 1.0) and its blocking API bounds each read and write
// (SO_RCVTIMEO) but not a whole exchange. Not thread-safe: one user at a time (the pool in
// redis_state.cpp hands connections out).
//
// Security: with rediss:// the server's certificate is verified against the system store or
// shared_state_ca_file, and its name against the host of the URL; there is no way to turn
// that off. The password is sent with AUTH and never logged.
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/config/redis_url.h"
#include "shared/shared_state/shared_state.h"

namespace smsm {

// Redis unreachable, too slow, or answering nonsense: the caller's failure policy applies.
struct RedisError : SharedUnavailable {
    using SharedUnavailable::SharedUnavailable;
};

struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, ReplyFree>;
using RedisCommand = std::vector<std::string>;
using Deadline = std::chrono::steady_clock::time_point;

// Where to connect: the URL's address, looked up once at start (a name lookup has no bound
// that would suit a milter callback), and the TLS context for rediss://.
struct RedisEndpoint {
    RedisUrl url;
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    std::shared_ptr<SSL_CTX> tls;  // null: plain TCP
    std::string password;          // empty: no AUTH
};

// Looks the host up and prepares TLS; throws std::runtime_error.
RedisEndpoint make_redis_endpoint(const RedisUrl& url, const std::string& password,
                                  const std::string& ca_file);

class RedisConn {
  public:
    // Connects, handshakes TLS, authenticates and selects the database, by `deadline`.
    RedisConn(const RedisEndpoint& ep, Deadline deadline);
    ~RedisConn();
    RedisConn(const RedisConn&) = delete;
    RedisConn& operator=(const RedisConn&) = delete;

    // Sends the commands in one write (a pipeline) and reads one reply each, by `deadline`.
    // A Redis error reply is returned as such (type REDIS_REPLY_ERROR); a broken or slow
    // connection throws RedisError and the connection is not to be used again.
    std::vector<RedisReply> run(const std::vector<RedisCommand>& cmds, Deadline deadline);
    RedisReply run(const RedisCommand& cmd, Deadline deadline);

  private:
    void close_all();
    void send_all(const std::string& bytes, Deadline deadline);
    std::size_t receive(char* buf, std::size_t len, Deadline deadline);
    void wait_io(bool for_write, Deadline deadline);
    int fd_ = -1;
    SSL* ssl_ = nullptr;
    redisReader* reader_ = nullptr;
};

}  // namespace smsm
