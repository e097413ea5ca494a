// Mail to SMS text: decoding through GMime and shaping (SPEC §6, the simple cases).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "shared/text/gsm_transliterate.h"
#include "shared/text/html_text.h"
#include "shared/text/message_text.h"

using namespace smsm;

namespace {
std::string sms_of(const std::string& raw) {
    return compose_sms(extract_text(raw), TextOptions{});
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

TEST_CASE("HTML becomes readable text") {
    struct Case {
        const char* name;
        const char* html;
        const char* want;
    };
    const Case cases[] = {
        {"blocks and br",
         "<html><head><title>T</title><style>p{color:red}</style></head><body><p>one</"
         "p><div>two<br>three</div></body></html>",
         "one\ntwo\nthree"},
        {"script and comments dropped", "<p>a<script>alert(1)</script><!-- hidden -->b</p>", "ab"},
        {"entities", "<p>5 &lt; 6 &amp;&amp; caf&eacute; &#8364;</p>",
         "5 < 6 && caf\xc3\xa9 \xe2\x82\xac"},
        {"table cells separated",
         "<table><tr><th>Host</th><th>CPU</th></tr><tr><td>db1</td><td>99%</td></tr></table>",
         "Host | CPU\ndb1 | 99%"},
        {"links kept as text",
         "<p>See <a href=\"https://grafana.example/d/1\">dashboard</a> now</p>",
         "See dashboard now"},
        {"list items", "<ul><li>disk</li><li>cpu</li></ul>", "- disk\n- cpu"},
        {"source white space is not layout", "<p>one\n   two</p>\n\n<p>three<br>\n  four</p>",
         "one two\nthree\nfour"},
        {"indented table", "<table>\n <tr>\n  <td>db1</td>\n  <td>99%</td>\n </tr>\n</table>",
         "db1 | 99%"},
        {"pre keeps its lines", "<pre>a\n  b</pre>", "a\nb"},
        {"legacy entities without ;", "<p>&amp 8 &gt 16 &copy 2014 &ampersand</p>",
         "& 8 > 16 \xc2\xa9 2014 &ampersand"},
        {"nbsp paragraphs are blank", "<p>a</p><p>&nbsp;</p><p>Fuel:&nbsp; 12%</p>",
         "a\n\nFuel: 12%"},
        {"broken markup", "<p>unclosed <b>bold <i>both</p>tail", "unclosed bold both\ntail"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(shape_body(html_to_text(c.html)) == c.want);
    }
}

TEST_CASE("body shaping: quotes, cut marker, signature") {
    CHECK(shape_body("fix it\n\nOn Mon, Bob wrote:\n> old\n> older\nthanks") == "fix it\nthanks");
    CHECK(shape_body("top\n>quoted\nbottom") == "top\nbottom");
    CHECK(shape_body("alert text ## footer\nmore footer", "##") == "alert text");
    CHECK(shape_body("alert\n##\nfooter", "##") == "alert");
    CHECK(shape_body("a\n-- \nsig", "") == "a");
    CHECK(shape_body("a\n--\nnot a sig", "") == "a\n--\nnot a sig");
}

TEST_CASE("templates") {
    MessageText m{"DISK FULL", "db1 at 99%", "Nagios", "nagios@example.com"};
    TextOptions o;
    o.sms_template = "[{from_name}] {subject}\\n{body}";
    CHECK(compose_sms(m, o) == "[Nagios] DISK FULL\ndb1 at 99%");
    o.sms_template = "{sender}: {subject}";
    CHECK(compose_sms(m, o, "alerts@example.com") == "alerts@example.com: DISK FULL");
    o.sms_template = "{subject}\\n{body}";
    CHECK(compose_sms(MessageText{"", "only body", "", ""}, o) == "only body");
    MessageText tricky{"{body}", "x", "", ""};  // tokens in the data are not expanded
    o.sms_template = "{subject} {body}";
    CHECK(compose_sms(tricky, o) == "{body} x");
    CHECK(check_template("{subject} {nope}").find("unknown field {nope}") != std::string::npos);
    CHECK(check_template("{subject").find("unclosed") != std::string::npos);
    CHECK(check_template("{subject} {body} {from} {from_name} {sender}").empty());
}

TEST_CASE("GSM-7 look-alikes") {
    TextOptions o;
    CHECK(compose_sms(MessageText{"",
                                  "\xe2\x80\x9c"
                                  "disk\xe2\x80\x9d \xe2\x80\x93 full\xe2\x80\xa6",
                                  "", ""},
                      o) == "\"disk\" - full...");
    CHECK(compose_sms(MessageText{"", "caf\xc3\xa9\xc2\xa0ok", "", ""}, o) ==
          "caf\xc3\xa9 ok");  // é is GSM-7
    CHECK(compose_sms(MessageText{"", "\xc5\x91 r\xc3\xa9sum\xc3\xa9", "", ""}, o) ==
          "o r\xc3\xa9sum\xc3\xa9");
    // Text that stays UCS-2 anyway keeps its characters.
    CHECK(compose_sms(MessageText{"", "\xe2\x80\x9c\xe6\x9d\xb1\xe4\xba\xac\xe2\x80\x9d", "", ""},
                      o) == "\xe2\x80\x9c\xe6\x9d\xb1\xe4\xba\xac\xe2\x80\x9d");
    o.transliterate = false;
    CHECK(compose_sms(MessageText{"", "\xe2\x80\x9cx\xe2\x80\x9d", "", ""}, o) ==
          "\xe2\x80\x9cx\xe2\x80\x9d");
}

TEST_CASE("the text is cut to max_segments and never exceeds Twilio's 1600 characters") {
    TextOptions o;
    o.max_segments = 10;
    std::string cut = compose_sms(MessageText{"", std::string(1700, 'a'), "", ""}, o);
    CHECK(cut.size() == 1530);
    CHECK(cut.substr(1527) == "...");
    o.max_segments = 1;
    CHECK(compose_sms(MessageText{"", std::string(160, 'a'), "", ""}, o) == std::string(160, 'a'));
}

TEST_CASE("a template is laid out, not read as a mail body") {
    TextOptions o;
    o.sms_template = "{subject}\\n{body}";
    CHECK(compose_sms(MessageText{"> 90% CPU", "-- \nstill here", "", ""}, o) ==
          "> 90% CPU\n--\nstill here");
    CHECK(collapse_space("  a   b \n\n\n c ") == "a b\n\nc");
}

TEST_CASE("shape_body: an inline forward keeps its text, its header block only a new subject") {
    struct Case {
        const char* text;
        const char* subject;
        const char* want;
    };
    const Case cases[] = {
        {"note\n\n-----Original Message-----\nFrom: A <a@x>\nSent: today\nSubject: disk full\n\n"
         "db1 at 99%",
         "FW: disk full", "note\n\ndb1 at 99%"},
        {"note\n---------- Forwarded message ---------\nFrom: A\nSubject: disk full\nTo: B\n\n"
         "db1 at 99%",
         "look", "note\n\ndisk full\ndb1 at 99%"},
        {"Begin forwarded message:\n\n> Subject: disk full\n>\n> db1 at 99%\n> > older quote",
         "Fwd: disk full", "db1 at 99%\n> older quote"},
        // Not a forward: a quoted reply is dropped with its "wrote:" line.
        {"ok\n\nOn Tue, A wrote:\n> db1 at 99%", "Re: disk full", "ok"},
        // Dashes alone are no marker.
        {"a\n----------\nb", "", "a\n----------\nb"},
    };
    for (const auto& c : cases) CHECK(shape_body(c.text, {}, c.subject) == c.want);
}

TEST_CASE("look-alikes are mapped by many threads at once, each with its own transliterator") {
    const std::string in = std::string("\xe2\x80\x9c") + "DISK" + "\xe2\x80\x9d" + " " +
                           "\xe2\x80\x94" + " 98" + "\xe2\x80\xa6" + " " + "\xc5\x81" + "\xc3\xb3" +
                           "d" + "\xc5\xba";
    const std::string want = gsm_transliterate(in);
    CHECK(want == "\"DISK\" - 98... Lodz");
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i)
                if (gsm_transliterate(in) != want) ++wrong;
        });
    for (auto& th : threads) th.join();
    CHECK(wrong == 0);
}
