// Bounded capture: the limit holds, and parts after a huge attachment are still seen.
#include <doctest/doctest.h>

#include "shared/text/body_capture.h"
#include "shared/text/message_text.h"

using namespace smsm;

namespace {
std::string huge_attachment_mail(std::size_t attachment_lines) {
    std::string m =
        "Subject: backup failed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
        "boundary=\"b1\"\r\n\r\n";
    m += "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
         "base64\r\n\r\n";
    for (std::size_t i = 0; i < attachment_lines; ++i) m += std::string(76, 'A') + "\r\n";
    m += "--b1\r\nContent-Type: text/plain\r\n\r\ndisk full on /backup\r\n--b1--\r\n";
    return m;
}
}  // namespace

TEST_CASE("the text part behind a 20 MiB attachment survives a 1 MiB limit") {
    std::string mail = huge_attachment_mail(20 * 1024 * 1024 / 78);
    BodyCapture cap(1024 * 1024);
    for (std::size_t pos = 0; pos < mail.size(); pos += 65535)
        cap.append(std::string_view(mail).substr(pos, 65535));
    CHECK(cap.cut());
    CHECK(cap.data().size() <= 1024 * 1024 + BodyCapture::kOverflowBudget + 2);
    CHECK(cap.data().size() + cap.dropped() >= mail.size());
    MessageText t = extract_text(cap.data());
    CHECK(t.subject == "backup failed");
    CHECK(t.body == "disk full on /backup");
}

TEST_CASE("chunk boundaries anywhere, even inside a boundary line") {
    std::string mail = huge_attachment_mail(2000);  // ~156 KiB
    for (std::size_t chunk : {1u, 7u, 80u, 4096u}) {
        CAPTURE(chunk);
        BodyCapture cap(8 * 1024);
        for (std::size_t pos = 0; pos < mail.size(); pos += chunk)
            cap.append(std::string_view(mail).substr(pos, chunk));
        CHECK(cap.cut());
        CHECK(extract_text(cap.data()).body == "disk full on /backup");
    }
}

TEST_CASE("under the limit, everything is kept as it came") {
    BodyCapture cap(1024);
    cap.append("line one\r\n");
    cap.append("line two\r\n");
    CHECK_FALSE(cap.cut());
    CHECK(cap.data() == "line one\r\nline two\r\n");
}

TEST_CASE("one endless line past the limit is bounded") {
    BodyCapture cap(1024);
    std::string junk(64 * 1024, 'x');
    for (int i = 0; i < 100; ++i) cap.append(junk);
    CHECK(cap.data().size() <= 1024 + 2);
    CHECK(cap.dropped() >= 100 * junk.size() - 1024 - 100);  // a bounded tail is held back
}
