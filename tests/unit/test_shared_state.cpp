// shared_state: the URL syntax, its config keys, and that a Redis that is not there costs a
// call at most shared_state_timeout and then nothing (Unavailable at once, no reconnect storm).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "shared/config/config.h"
#include "shared/shared_state/redis_state.h"
#include "shared/shared_state/redis_url.h"
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
