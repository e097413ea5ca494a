// Classification of Twilio's answers (SPEC §7) and the retry backoff.
#include <doctest/doctest.h>

#include "shared/sender.h"
#include "shared/twilio.h"

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

TEST_CASE("Twilio's dates and message list matching") {
    using std::chrono::system_clock;
    auto t = parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 +0000");
    REQUIRE(t);
    CHECK(system_clock::to_time_t(*t) == 1795633200);
    CHECK(parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 GMT") == t);
    CHECK(parse_rfc2822_date("Wed, 25 Nov 2026 20:30:00 +0130") == t);
    CHECK_FALSE(parse_rfc2822_date("yesterday"));
    CHECK_FALSE(parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 PST"));

    std::string list = R"({"messages":[
        {"sid":"SMold","body":"DISK FULL","date_created":"Wed, 25 Nov 2026 17:00:00 +0000"},
        {"sid":"SMother","body":"CPU HIGH","date_created":"Wed, 25 Nov 2026 19:00:05 +0000"},
        {"sid":"SMnew","body":"DISK FULL","date_created":"Wed, 25 Nov 2026 19:00:05 +0000"}]})";
    LookupResult found = match_message_list(list, "DISK FULL", *t);
    CHECK(found.kind == LookupResult::Kind::Found);
    CHECK(found.sid == "SMnew");
    CHECK(match_message_list(list, "DISK FULL", *t + std::chrono::hours(1)).kind ==
          LookupResult::Kind::NotFound);
    CHECK(match_message_list(list, "nothing like it", *t).kind == LookupResult::Kind::NotFound);
    CHECK(match_message_list("<html>", "x", *t).kind == LookupResult::Kind::Error);
}

TEST_CASE("the lookup pages on only while the page is newer than the job") {
    auto t = *parse_rfc2822_date("Wed, 25 Nov 2026 19:00:00 +0000");
    std::string newer =
        R"({"messages":[{"sid":"SMa","body":"other","date_created":"Wed, 25 Nov 2026 19:00:09 +0000"}],
                           "next_page_uri":"/2010-04-01/Accounts/AC1/Messages.json?Page=1"})";
    LookupResult r = match_message_list(newer, "DISK FULL", t);
    CHECK(r.kind == LookupResult::Kind::NotFound);
    CHECK(r.next_page_uri == "/2010-04-01/Accounts/AC1/Messages.json?Page=1");
    std::string reaches_older =
        R"({"messages":[{"sid":"SMb","body":"other","date_created":"Wed, 25 Nov 2026 18:00:00 +0000"}],
                                   "next_page_uri":"/next"})";
    CHECK(match_message_list(reaches_older, "DISK FULL", t).next_page_uri.empty());
    std::string last = R"({"messages":[],"next_page_uri":null})";
    CHECK(match_message_list(last, "DISK FULL", t).next_page_uri.empty());
}
