// The MIME structure budget (shared/text/mime_limit.h): floods of parts, header lines and address
// or parameter fields are cut, GMime never builds more than was counted, the text of the
// first parts survives, and ordinary mail passes unchanged.
#include <doctest/doctest.h>
#include <gmime/gmime.h>

#include <string>

#include "shared/text/message_text.h"
#include "shared/text/mime_limit.h"

using namespace smsm;

namespace {

const std::string kHead =
    "From: Alerts <alerts@example.com>\r\nSubject: flood\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"bnd\"\r\n\r\n";
const std::string kText = "--bnd\r\nContent-Type: text/plain\r\n\r\ndisk full on db1\r\n";

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

std::string empty_parts(std::size_t n) {
    return kHead + kText + repeat("--bnd\r\n\r\n", n);
}

// What GMime builds from the bytes mime_limit() lets through.
struct Built {
    std::size_t objects = 0;  // parts, multiparts, message parts (and the top-level one)
    std::size_t headers = 0;  // header fields of all of them and of inner messages
};

void count(GMimeObject* obj, Built& b) {
    if (!obj) return;
    ++b.objects;
    b.headers +=
        static_cast<std::size_t>(g_mime_header_list_get_count(g_mime_object_get_header_list(obj)));
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        for (int i = 0; i < g_mime_multipart_get_count(mp); ++i)
            count(g_mime_multipart_get_part(mp, i), b);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner) {
            b.headers += static_cast<std::size_t>(
                g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(inner))));
            count(g_mime_message_get_mime_part(inner), b);
        }
    }
}

Built build(const std::string& raw, const MimeLimit& limit) {
    std::string bytes =
        limit.top_headers + raw.substr(limit.body_begin, limit.keep - limit.body_begin);
    GMimeStream* stream = g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size());
    GMimeParser* parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
    Built b;
    if (msg) {
        b.headers += static_cast<std::size_t>(
            g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(msg))));
        count(g_mime_message_get_mime_part(msg), b);
        g_object_unref(msg);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    return b;
}

}  // namespace

TEST_CASE("a flood of empty MIME parts stops at the part cap, after the text of the first") {
    std::string raw = empty_parts(5000);
    MimeCaps caps;
    caps.parts = 100;
    MimeLimit limit = mime_limit(raw, caps);
    CHECK(limit.cut);
    CHECK(limit.parts == 100);
    CHECK(limit.keep < raw.size());
    CHECK(raw.compare(0, limit.keep, kHead + kText + repeat("--bnd\r\n\r\n", 99)) == 0);
    Built built = build(raw, limit);
    CHECK(built.objects <= 1 + limit.parts);
    CHECK(built.objects >= 50);  // the count is close, not wildly over

    // The default caps, through extract_text(): 200,000 parts, the text of the first.
    MessageText text = extract_text(empty_parts(200000));
    CHECK(text.mime_cut);
    CHECK(text.subject == "flood");
    CHECK(text.body == "disk full on db1");
    CHECK(mime_limit(empty_parts(200000)).parts == MimeCaps{}.parts);
}

TEST_CASE("text after the part cap is not seen") {
    std::string raw = kHead + repeat("--bnd\r\n\r\n", 300) + kText + "--bnd--\r\n";
    MessageText text = extract_text(raw);
    CHECK(text.mime_cut);
    CHECK(text.subject == "flood");
    CHECK(text.body.empty());
    // Under the cap, the same text is found.
    std::string small = kHead + repeat("--bnd\r\n\r\n", 100) + kText + "--bnd--\r\n";
    MessageText found = extract_text(small);
    CHECK_FALSE(found.mime_cut);
    CHECK(found.body == "disk full on db1");
}

TEST_CASE("GMime builds no more parts and headers than mime_limit() counted") {
    MimeCaps caps;
    caps.parts = 40;
    caps.header_lines = 300;
    caps.field_bytes = 4096;
    std::string digest =
        "Subject: d\r\nContent-Type: multipart/digest; boundary=\"d\"\r\n\r\n" +
        repeat("--d\r\n\r\nFrom: x@example.com\r\nX-A: 1\r\nX-B: 2\r\n\r\nbody\r\n", 200);
    std::string nested = "Subject: n\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
    for (int i = 0; i < 200; ++i)
        nested += "--b" + std::to_string(i) + "\r\nContent-Type: multipart/mixed; boundary=\"b" +
                  std::to_string(i + 1) + "\"\r\n\r\n";
    std::string chain = "Subject: c\r\nContent-Type: message/rfc822\r\n\r\n" +
                        repeat("X-Hop: 1\r\nContent-Type: message/rfc822\r\n\r\n", 400) + "x\r\n";
    std::string folded_type = "Subject: f\r\nContent-Type:\r\n message/rfc822\r\n\r\n" +
                              repeat("X-A: 1\r\n", 1000) + "\r\nbody\r\n";
    std::string header_flood = kHead + kText + "--bnd\r\n" + repeat("X: y\r\n", 20000) + "\r\n";
    std::string param_flood =
        kHead + kText +
        repeat("--bnd\r\nContent-Type: a/b; " + repeat("p=1; ", 200) + "\r\n\r\nx\r\n", 30);
    std::string inner_to = kHead + kText + "--bnd\r\nContent-Type: message/rfc822\r\n\r\nTo: " +
                           repeat("a@b, ", 20000) + "\r\n\r\nx\r\n";
    struct Case {
        const char* name;
        const std::string& raw;
    };
    const Case cases[] = {{"digest", digest},
                          {"nested multiparts", nested},
                          {"message/rfc822 chain", chain},
                          {"folded message Content-Type", folded_type},
                          {"header lines", header_flood},
                          {"Content-Type parameters", param_flood},
                          {"To: in a forwarded message", inner_to}};
    for (const auto& c : cases) {
        CAPTURE(c.name);
        MimeLimit limit = mime_limit(c.raw, caps);
        CHECK(limit.cut);
        CHECK(limit.parts <= caps.parts);
        CHECK(limit.header_lines <= caps.header_lines);
        CHECK(limit.field_bytes <= caps.field_bytes);
        Built built = build(c.raw, limit);
        CHECK(built.objects <= 1 + limit.parts + limit.header_lines);
        CHECK(built.headers <= limit.header_lines);
    }
}

TEST_CASE("top-level address fields: only From is parsed, and only its start") {
    std::string to = "To: " + repeat("someone@example.com, ", 20000) + "\r\n";
    std::string raw = "From: Alerts <alerts@example.com>\r\n" + to +
                      "Cc: a@example.com,\r\n b@example.com\r\nSubject: s\r\n\r\nbody\r\n";
    MimeLimit limit = mime_limit(raw);
    CHECK_FALSE(limit.cut);
    CHECK(limit.top_headers == "From: Alerts <alerts@example.com>\r\nSubject: s\r\n\r\n");
    CHECK(raw.substr(limit.body_begin) == "body\r\n");
    MessageText text = extract_text(raw);
    CHECK(text.from_addr == "alerts@example.com");
    CHECK(text.subject == "s");
    CHECK(text.body == "body");

    std::string long_from =
        "From: Alerts <alerts@example.com>, " + repeat("x@example.com, ", 1000) + "\r\n";
    MimeLimit cut_from = mime_limit(long_from + "Subject: s\r\n\r\nbody\r\n");
    CHECK(cut_from.top_headers.size() <= MimeCaps{}.from_bytes + 2 + 14);
    CHECK(cut_from.top_headers.find("Subject: s\r\n\r\n") != std::string::npos);
    MessageText t = extract_text(long_from + "Subject: s\r\n\r\nbody\r\n");
    CHECK(t.from_name == "Alerts");
    CHECK(t.body == "body");
}

TEST_CASE("ordinary mail passes unchanged") {
    const std::string mails[] = {
        kHead + kText + "--bnd\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--bnd--\r\n",
        "From: a@example.com\r\nSubject: plain\r\n\r\nline\r\n-----\r\nTo: ops\r\nHost: db1\r\n",
        "Subject: no blank line after the headers",
        "",
    };
    for (const auto& raw : mails) {
        CAPTURE(raw);
        MimeLimit limit = mime_limit(raw);
        CHECK_FALSE(limit.cut);
        CHECK(limit.keep == raw.size());
        CHECK(limit.top_headers + raw.substr(limit.body_begin) == raw);
    }
    // Lines after a "-----" rule look like a header block; they are counted, never dropped.
    MessageText text = extract_text(mails[1]);
    CHECK(text.body == "line\n-----\nTo: ops\nHost: db1");
}
