// libFuzzer target for the message-to-SMS path (SPEC §6). The input is a whole mail as the
// milter would capture it: it goes through extract_text() and compose_sms() with the default
// options and with max_segments (1..10, the config's range) from the first byte; bit 7 of that
// byte also turns GSM-7 transliteration off (gsm_transliterate = no). The same bytes also go
// through html_to_text() and shape_body(). A broken invariant is a crash (__builtin_trap),
// after one line on stderr naming it:
//   - the SMS text is valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF);
//   - it needs at most max_segments segments, as count_segments() counts them;
//   - it is at most 1600 UTF-16 code units (Twilio's limit);
//   - with small caps, GMime builds no more parts and headers from what mime_limit() lets
//     through than it counted (its over-approximation of GMime's parser holds).
#include <gmime/gmime.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "shared/text/html_text.h"
#include "shared/text/message_text.h"
#include "shared/text/mime_limit.h"
#include "shared/text/segments.h"

namespace {

constexpr std::size_t kTwilioMaxUnits = 1600;

[[noreturn]] void fail(const char* what, const std::string& sms, int max_segments) {
    std::fprintf(stderr, "invariant broken: %s (max_segments=%d, %zu bytes)\n", what, max_segments,
                 sms.size());
    __builtin_trap();
}

// Strict UTF-8 check, written independently of shared/text/segments.cpp's decoder.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto b = static_cast<unsigned char>(s[i]);
        std::size_t len;
        char32_t cp;
        if (b < 0x80) {
            ++i;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
            cp = b & 0x1Fu;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            cp = b & 0x0Fu;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            cp = b & 0x07u;
        } else {
            return false;
        }
        if (s.size() - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

// UTF-16 code units of valid UTF-8: one per code point, two from U+10000 (4-byte forms).
std::size_t utf16_units(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        if ((b & 0xC0) != 0x80) n += b >= 0xF0 ? 2 : 1;
    }
    return n;
}

void check_sms(const std::string& sms, int max_segments) {
    if (!valid_utf8(sms)) fail("SMS text is not valid UTF-8", sms, max_segments);
    if (smsm::count_segments(sms).segments > max_segments)
        fail("SMS text needs more than max_segments segments", sms, max_segments);
    if (utf16_units(sms) > kTwilioMaxUnits)
        fail("SMS text is over 1600 UTF-16 units", sms, max_segments);
}

// Parts (with multiparts and message parts) and header fields GMime built under obj.
void count_tree(GMimeObject* obj, std::size_t& objects, std::size_t& headers) {
    if (!obj) return;
    ++objects;
    headers +=
        static_cast<std::size_t>(g_mime_header_list_get_count(g_mime_object_get_header_list(obj)));
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        for (int i = 0; i < g_mime_multipart_get_count(mp); ++i)
            count_tree(g_mime_multipart_get_part(mp, i), objects, headers);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj))) {
            headers += static_cast<std::size_t>(
                g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(inner))));
            count_tree(g_mime_message_get_mime_part(inner), objects, headers);
        }
    }
}

void check_mime_limit(std::string_view raw) {
    smsm::MimeCaps caps;
    caps.parts = 8;
    caps.header_lines = 32;
    caps.field_bytes = 512;
    caps.from_bytes = 64;
    const smsm::MimeLimit limit = smsm::mime_limit(raw, caps);
    if (limit.parts > caps.parts || limit.header_lines > caps.header_lines ||
        limit.field_bytes > caps.field_bytes || limit.body_begin > limit.keep ||
        limit.keep > raw.size())
        fail("mime_limit() broke its caps", std::string(raw), 0);
    std::string bytes = limit.top_headers +
                        std::string(raw.substr(limit.body_begin, limit.keep - limit.body_begin));
    GMimeStream* stream = g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size());
    GMimeParser* parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
    std::size_t objects = 0, headers = 0;
    if (msg) {
        headers += static_cast<std::size_t>(
            g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(msg))));
        count_tree(g_mime_message_get_mime_part(msg), objects, headers);
        g_object_unref(msg);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    if (objects > 1 + limit.parts + limit.header_lines || headers > limit.header_lines) {
        std::fprintf(stderr, "GMime built %zu parts and %zu headers; counted %zu and %zu\n",
                     objects, headers, limit.parts, limit.header_lines);
        fail("GMime built more than mime_limit() counted", bytes, 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    smsm::message_text_init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);

    const smsm::MessageText text = smsm::extract_text(raw);
    const smsm::TextOptions defaults;
    check_sms(smsm::compose_sms(text, defaults, "alerts@example.com"), defaults.max_segments);

    if (size > 0) {
        smsm::TextOptions options;
        options.max_segments = 1 + data[0] % 10;
        options.transliterate = (data[0] & 0x80) == 0;
        check_sms(smsm::compose_sms(text, options), options.max_segments);
    }

    check_mime_limit(raw);

    // The HTML fallback on its own, fed bytes that need not be a mail at all.
    const std::string shaped = smsm::shape_body(smsm::html_to_text(raw));
    (void)shaped;
    return 0;
}
