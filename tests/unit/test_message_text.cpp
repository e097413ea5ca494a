// Mail to SMS text: decoding through GMime and shaping (SPEC §6, the simple cases).
#include <doctest/doctest.h>

#include "shared/message_text.h"

using namespace smsm;

namespace {
std::string sms_of(const std::string& raw) {
    static bool init = (message_text_init(), true);
    (void)init;
    return compose_sms(extract_text(raw));
}
}  // namespace

TEST_CASE("mail to SMS text") {
    struct Case {
        const char* name;
        const char* raw;
        const char* want;
    };
    const Case cases[] = {
        {"subject and body", "Subject: DISK FULL\r\n\r\ndb1 at 99%\r\n", "DISK FULL\ndb1 at 99%"},
        {"subject only", "Subject: cron ok\r\n\r\n", "cron ok"},
        {"body only", "From: a@b\r\n\r\nhello\r\n", "hello"},
        {"nothing", "From: a@b\r\n\r\n\r\n  \r\n", ""},
        {"encoded-word subject", "Subject: =?UTF-8?B?w4ljaGVj?=\r\n\r\nx\r\n",
         "\xc3\x89"
         "chec\nx"},
        {"quoted-printable Latin-1 body",
         "Subject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\nTemp=E9rature haute=\r\n!\r\n",
         "s\nTemp\xc3\xa9rature haute!"},
        {"base64 UTF-8 body",
         "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
         "base64\r\n\r\n"
         "aMOpbGxvIHdvcmxk\r\n",
         "s\nh\xc3\xa9llo world"},
        {"signature dropped", "Subject: s\r\n\r\nline one\r\n-- \r\nJohn\r\n", "s\nline one"},
        {"blank lines and spaces collapsed",
         "Subject:   a   b  \r\n\r\n\r\nx    y\r\n\r\n\r\n\r\nz  \r\n", "a b\nx y\n\nz"},
        {"multipart/alternative prefers text/plain",
         "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
         "boundary=XX\r\n\r\n"
         "--XX\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
         "--XX\r\nContent-Type: text/plain\r\n\r\nplain\r\n--XX--\r\n",
         "s\nplain"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(sms_of(c.raw) == c.want);
    }
}

TEST_CASE("the text never exceeds Twilio's 1600 characters, counted in UTF-16 units") {
    MessageText m{"", std::string(1700, 'a')};
    CHECK(compose_sms(m).size() == 1600);
    std::string emoji;
    for (int i = 0; i < 900; ++i) emoji += "\xf0\x9f\x94\xa5";  // U+1F525: two UTF-16 units
    MessageText e{"", emoji};
    CHECK(compose_sms(e).size() == 800 * 4);
}
