// Text shown to people: the SMS text in `queue show` and in failure notices keeps its line
// breaks (indented) and masks every other control character.
#include <doctest/doctest.h>

#include "shared/base/strings.h"
#include "shared/delivery/notice.h"

using namespace smsm;

TEST_CASE("display_text: line breaks kept and indented, control characters masked") {
    struct Case {
        const char* in;
        std::size_t max;
        const char* want;
    };
    const Case cases[] = {
        {"DISK FULL on db1\n/var is 98% full", 100, "DISK FULL on db1\n    /var is 98% full"},
        {"a\r\nb", 100, "a\n    b"},                                        // CR dropped
        {"a\tb\x1b[31mred\x7f", 100, "a?b?[31mred?"},                       // TAB, ESC, DEL
        {"caf\xc3\xa9 \xe2\x82\xac 5", 100, "caf\xc3\xa9 \xe2\x82\xac 5"},  // UTF-8 kept
        {"x\xc2\x85y", 100, "x?y"},                                         // C1 control (NEL)
        {"x\xe2\x80\xaey", 100, "x?y"},                          // RIGHT-TO-LEFT OVERRIDE
        {"x\xe2\x80\xa8y", 100, "x?y"},                          // LINE SEPARATOR
        {"bad\xff\xc3", 100, "bad??"},                           // invalid, truncated
        {"over\xc0\xaflong", 100, "over??long"},                 // overlong '/'
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 2, "\xc3\xa9\xc3\xa9..."},  // cut on code points
        {"abc", 3, "abc"},
        {"", 10, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(display_text(c.in, c.max, "    ") == c.want);
    }
}

TEST_CASE("failure notice quotes the SMS text line by line, in UTF-8") {
    Job job;
    job.queue_id = "4Bf3Zk1Qv";
    job.sender = "alerts@example.com";
    job.rcpt = "+14155550123@sms.example.com";
    job.number = "+14155550123";
    job.body = "DISK FULL on db1\n/var is 98% full\n\xe2\x80\x94 caf\xc3\xa9\x1b";
    std::string mail =
        compose_notice(job, "HTTP 400 code 21211: Invalid 'To'", "alerts@example.com");
    CHECK(mail.find("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n") !=
          std::string::npos);
    CHECK(mail.find("The text was:\n\n  DISK FULL on db1\n  /var is 98% full\n  \xe2\x80\x94 "
                    "caf\xc3\xa9?\n") != std::string::npos);
    CHECK(mail.find('\x1b') == std::string::npos);
}
