// Classification of Twilio's answers (SPEC §7) and the retry backoff.
#include <doctest/doctest.h>

#include "shared/delivery/sender.h"
#include "shared/twilio/twilio.h"

using namespace smsm;
using K = SendResult::Kind;

TEST_CASE("Twilio answers map to outbox outcomes") {
    struct Case {
        long status;
        const char* body;
        K want;
        int code;
    };
    const Case cases[] = {
        {201, R"({"sid":"SM0123","status":"queued","num_segments":"2"})", K::Sent, 0},
        {429, R"({"code":20429,"message":"Too Many Requests"})", K::Retry, 20429},
        {400, R"({"code":20429,"message":"Too Many Requests"})", K::Retry, 20429},
        {401, R"({"code":20003,"message":"Authenticate"})", K::AuthError, 20003},
        {403, R"({"code":20003,"message":"Authenticate"})", K::AuthError, 20003},
        {400, R"({"code":21211,"message":"Invalid 'To' Phone Number"})", K::Permanent, 21211},
        {400, R"({"code":21610,"message":"unsubscribed"})", K::Permanent, 21610},
        {400, R"({"code":21617,"message":"too long"})", K::Permanent, 21617},
        {500, R"({"code":20500,"message":"Internal"})", K::Ambiguous, 20500},
        {503, "<html>bad gateway</html>", K::Ambiguous, 0},
        {408, "", K::Ambiguous, 0},
    };
    for (const auto& c : cases) {
        CAPTURE(c.status);
        CAPTURE(c.body);
        SendResult r = classify_response(c.status, c.body, std::nullopt);
        CHECK(r.kind == c.want);
        CHECK(r.code == c.code);
    }
    SendResult ok = classify_response(201, R"({"sid":"SMabc","num_segments":"2"})", std::nullopt);
    CHECK(ok.sid == "SMabc");
    CHECK(ok.segments == 2);
    CHECK(ok.error.empty());
}

TEST_CASE("a number quoted in Twilio's error message is masked where the answer enters") {
    SendResult r = classify_response(
        400,
        R"({"code":21211,"message":"The 'To' number +14155550100 is not a valid phone number."})",
        std::nullopt);
    CHECK(r.kind == K::Permanent);
    CHECK(r.error ==
          "HTTP 400 code 21211: The 'To' number +1415***0100 is not a valid phone number.");
}

TEST_CASE("backoff doubles from minimal to maximal; Retry-After wins when longer") {
    Config c;
    c.minimal_backoff_time = std::chrono::seconds(10);
    c.maximal_backoff_time = std::chrono::seconds(300);
    using std::chrono::seconds;
    CHECK(backoff_delay(c, 1, std::nullopt) == seconds(10));
    CHECK(backoff_delay(c, 2, std::nullopt) == seconds(20));
    CHECK(backoff_delay(c, 5, std::nullopt) == seconds(160));
    CHECK(backoff_delay(c, 6, std::nullopt) == seconds(300));
    CHECK(backoff_delay(c, 60, std::nullopt) == seconds(300));
    CHECK(backoff_delay(c, 1, seconds(30)) == seconds(30));
    CHECK(backoff_delay(c, 5, seconds(30)) == seconds(160));
}

TEST_CASE("retry time: jitter only adds, within [delay, 1.2 * delay], on a whole second") {
    using std::chrono::milliseconds;
    using std::chrono::seconds;
    struct Case {
        long now_ms;  // since the epoch
        long delay_s;
        double u;
        long want_s;  // the second the job falls due
    };
    const Case cases[] = {
        // minimal_backoff_time = 10s, deferred at 1000.3 s: due in [1010.3, 1012.3]
        {1000300, 10, 0.0, 1011},  // not 1010 (9.7 s): the rounding down that gave 9.3 s
        {1000300, 10, 0.49, 1011},
        {1000300, 10, 0.5, 1012},
        {1000300, 10, 0.999, 1012},
        {1000000, 10, 0.0, 1010},  // on a second: exactly the delay
        {1000000, 10, 0.34, 1011},
        {1000000, 10, 0.999, 1012},
        {1000999, 20, 0.0, 1021},  // [1020.999, 1024.999]
        {1000999, 20, 0.999, 1024},
        {1000000, 300, 0.999, 1360},  // maximal_backoff_time 5m: up to 60 s more
        {1000500, 1, 0.999, 1002},    // 1s: no whole second within [1001.5, 1001.7]: the next
        {1000500, 1, 0.0, 1002},
    };
    for (const auto& c : cases) {
        CAPTURE(c.now_ms);
        CAPTURE(c.delay_s);
        CAPTURE(c.u);
        Clock::time_point now{milliseconds(c.now_ms)};
        CHECK(retry_time(now, seconds(c.delay_s), c.u) == Clock::time_point(seconds(c.want_s)));
    }
    for (long delay : {10L, 20L, 40L, 160L, 300L}) {
        for (long now_ms : {1000000L, 1000001L, 1000300L, 1000999L}) {
            for (double u : {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.9999}) {
                Clock::time_point now{milliseconds(now_ms)};
                auto got = retry_time(now, seconds(delay), u) - now;
                CAPTURE(delay);
                CAPTURE(now_ms);
                CAPTURE(u);
                CHECK(got >= seconds(delay));
                CHECK(got <= milliseconds(delay * 1200));
            }
        }
    }
}

TEST_CASE("Twilio's RFC 2822 dates") {
    using std::chrono::system_clock;
    auto t = parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 +0000");
    REQUIRE(t);
    CHECK(system_clock::to_time_t(*t) == 1795633200);
    CHECK(parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 GMT") == t);
    CHECK(parse_rfc2822_date("Wed, 25 Nov 2026 20:30:00 +0130") == t);
    CHECK_FALSE(parse_rfc2822_date("yesterday"));
    CHECK_FALSE(parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 PST"));
}
