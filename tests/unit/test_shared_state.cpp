// shared_state: the URL syntax, its config keys, that a Redis that is not there costs a call
// at most shared_state_timeout and then nothing (Unavailable at once, no reconnect storm), and
// that a rediss:// exchange does not trip over an OpenSSL error another caller left behind.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "shared/config/config.h"
#include "shared/config/redis_url.h"
#include "shared/config_load/load_config.h"
#include "shared/shared_state/redis_state.h"
#include "tests/unit/fixtures.h"

using smsm::parse_redis_url;

TEST_CASE("shared_state URLs") {
    struct Case {
        const char* in;
        const char* want;  // nullptr: refused
    };
    for (auto c :
         {Case{"redis://127.0.0.1:6380/2", "redis://127.0.0.1:6380/2"},
          Case{"redis://redis.example.com", "redis://redis.example.com:6379/0"},
          Case{"rediss://redis.example.com:6390/15", "rediss://redis.example.com:6390/15"},
          Case{"redis://[::1]:6379/1", "redis://[::1]:6379/1"},
          Case{"redis://h/", "redis://h:6379/0"}, Case{"redis://user:pw@h:6379/0", nullptr},
          Case{"redis://h:0/0", nullptr}, Case{"redis://h:70000/0", nullptr},
          Case{"redis://h:6379/16", nullptr}, Case{"redis://h:6379/x", nullptr},
          Case{"redis://[::1/0", nullptr}, Case{"redis://bad_host/0", nullptr},
          Case{"http://h:6379/0", nullptr}, Case{"redis://", nullptr}}) {
        CAPTURE(c.in);
        auto u = parse_redis_url(c.in);
        if (!c.want) {
            CHECK_FALSE(u.has_value());
        } else {
            REQUIRE(u.has_value());
            CHECK(u->str() == c.want);
        }
    }
}

TEST_CASE("shared_state keys: defaults, values and errors") {
    smsm::test::TempDir d;
    auto base = smsm::test::minimal_config(d);
    auto load = smsm::load_config(d.write("a.conf", base));
    REQUIRE(load.config);
    CHECK(load.config->shared_state.empty());
    CHECK(load.config->shared_state_failure == smsm::SharedStateFailure::Local);
    CHECK(load.config->shared_state_timeout == std::chrono::milliseconds(200));
    load = smsm::load_config(
        d.write("b.conf", base + "shared_state = redis://127.0.0.1:6379/1\n"
                                 "shared_state_failure = tempfail\nshared_state_timeout = 50ms\n"));
    REQUIRE(load.config);
    CHECK(load.config->shared_state_failure == smsm::SharedStateFailure::Tempfail);
    CHECK(load.config->shared_state_timeout == std::chrono::milliseconds(50));
    for (const char* bad : {"shared_state = redis://u:p@h/0\n", "shared_state_failure = accept\n",
                            "shared_state_timeout = 5ms\n",
                            "shared_state = redis://h/0\nshared_state_ca_file = /etc/hosts\n"}) {
        CAPTURE(bad);
        CHECK_FALSE(smsm::load_config(d.write("c.conf", base + bad)).config);
    }
}

TEST_CASE("a Redis that does not answer costs one timeout, then nothing until the backoff") {
    // A listening socket that never accepts: connect succeeds (backlog), AUTH gets no answer.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    auto url = parse_redis_url("redis://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/0");
    REQUIRE(url);
    smsm::RedisState state(smsm::make_redis_endpoint(*url, "secret", ""),
                           std::chrono::milliseconds(100));
    smsm::Config cfg;
    cfg.destination_rate_limit = {3, std::chrono::seconds(3600)};
    auto t0 = std::chrono::steady_clock::now();
    auto r = state.reserve(cfg, "a@example.com", {"+14155550100"}, 1000);
    auto first = std::chrono::steady_clock::now() - t0;
    CHECK(r.status == smsm::SharedStatus::Unavailable);
    CHECK(first >= std::chrono::milliseconds(90));
    CHECK(first < std::chrono::milliseconds(1000));
    CHECK(state.status() == smsm::SharedStatus::Unavailable);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i)
        CHECK(state.reserve(cfg, "a@example.com", {"+14155550100"}, 1000).status ==
              smsm::SharedStatus::Unavailable);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50));
    ::close(fd);
}

namespace {

// A self-signed certificate for IP:127.0.0.1, made in memory for the test below.
struct TestCert {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_EC_gen("P-256"), EVP_PKEY_free};
    std::unique_ptr<X509, decltype(&X509_free)> cert{X509_new(), X509_free};
    std::string pem;
    TestCert() {
        X509* x = cert.get();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, key.get());
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("redis-unit-test"), -1,
                                   -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
        X509_EXTENSION* san =
            X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1");
        X509_add_ext(x, san, -1);
        X509_EXTENSION_free(san);
        X509_sign(x, key.get(), EVP_sha256());
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(bio, x);
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        pem.assign(data, static_cast<std::size_t>(n));
        BIO_free(bio);
    }
};

// One TLS connection on a loopback port, answering +PONG to each read, until the client goes.
class TlsPongServer {
  public:
    explicit TlsPongServer(const TestCert& c) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 1) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        thread_ = std::thread([this, &c] { serve(c); });
    }
    ~TlsPongServer() {
        thread_.join();
        ::close(fd_);
    }
    int port = 0;

  private:
    void serve(const TestCert& c) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return;  // bounded: the client may never come
        int conn = ::accept(fd_, nullptr, nullptr);
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(ctx, c.cert.get());
        SSL_CTX_use_PrivateKey(ctx, c.key.get());
        SSL* s = SSL_new(ctx);
        SSL_set_fd(s, conn);
        timeval tv{5, 0};
        ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (SSL_accept(s) == 1) {
            char buf[4096];
            while (SSL_read(s, buf, sizeof buf) > 0) SSL_write(s, "+PONG\r\n", 7);
        }
        SSL_free(s);
        SSL_CTX_free(ctx);
        ::close(conn);
    }
    int fd_ = -1;
    std::thread thread_;
};

}  // namespace

TEST_CASE("rediss://: an OpenSSL error left in the thread's queue does not fail the exchange") {
    // OpenSSL's SSL_get_error() reads the thread's error queue first: an error another user of
    // OpenSSL left there (libcurl, in the sender thread that also asks Redis for storm counts)
    // turned the WANT_READ of every handshake and reply wait into a failure: Redis "down".
    TestCert cert;
    smsm::test::TempDir d;
    TlsPongServer server(cert);
    auto url = parse_redis_url("rediss://127.0.0.1:" + std::to_string(server.port) + "/0");
    REQUIRE(url);
    auto ep = smsm::make_redis_endpoint(*url, "", d.write("ca.pem", cert.pem));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
    std::unique_ptr<smsm::RedisConn> conn;
    try {
        conn = std::make_unique<smsm::RedisConn>(ep, deadline);
    } catch (const smsm::RedisError& e) {
        FAIL_CHECK("handshake: " << std::string(e.what()));
    }
    if (conn) {
        ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
        try {
            auto reply = conn->run({"PING"}, deadline);
            CHECK(std::string(reply->str, reply->len) == "PONG");
        } catch (const smsm::RedisError& e) {
            FAIL_CHECK("PING: " << std::string(e.what()));
        }
    }
    ERR_clear_error();
}
