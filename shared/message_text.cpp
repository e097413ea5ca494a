// Turning a captured mail into SMS text, with GMime doing the MIME work.
#include "shared/message_text.h"

#include <gmime/gmime.h>

#include <memory>

#include "shared/strings.h"

namespace smsm {

namespace {

constexpr std::size_t kTwilioMaxChars = 1600;
constexpr int kMaxMimeDepth = 16;

struct GObjectUnref {
    void operator()(void* p) const {
        if (p) g_object_unref(p);
    }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
    void operator()(char* p) const { g_free(p); }
};

std::string part_text(GMimeObject* obj) {
    std::unique_ptr<char, GFree> text(g_mime_text_part_get_text(GMIME_TEXT_PART(obj)));
    return text ? std::string(text.get()) : std::string();
}

// Crude tag removal for HTML-only mail until a real HTML-to-text converter lands.
std::string strip_tags(std::string_view html) {
    std::string out;
    bool in_tag = false;
    for (char c : html) {
        if (c == '<')
            in_tag = true;
        else if (c == '>')
            in_tag = false, out.push_back(' ');
        else if (!in_tag)
            out.push_back(c);
    }
    return out;
}

struct Found {
    std::string plain;
    std::string html;
};

// Depth-first walk: the first non-attachment text/plain wins, text/html is the fallback.
void walk(GMimeObject* obj, int depth, Found& found) {
    if (!obj || depth > kMaxMimeDepth || !found.plain.empty()) return;
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1, found);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner) walk(g_mime_message_get_mime_part(inner), depth + 1, found);
        return;
    }
    if (!GMIME_IS_TEXT_PART(obj) || g_mime_part_is_attachment(GMIME_PART(obj))) return;
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (g_mime_content_type_is_type(ct, "text", "plain"))
        found.plain = part_text(obj);
    else if (g_mime_content_type_is_type(ct, "text", "html") && found.html.empty())
        found.html = part_text(obj);
}

// Collapses runs of white space (including newlines) to one space.
std::string one_line(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : trim(s)) {
        bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        if (ws && !space)
            out.push_back(' ');
        else if (!ws)
            out.push_back(c);
        space = ws;
    }
    return out;
}

// Cuts UTF-8 text to at most max UTF-16 code units, on a code point boundary.
std::string cut_utf16(std::string_view s, std::size_t max) {
    std::size_t units = 0;
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        std::size_t need = len == 4 ? 2 : 1;
        if (units + need > max) return std::string(s.substr(0, i));
        units += need;
        i += len;
    }
    return std::string(s);
}

}  // namespace

void message_text_init() {
    g_mime_init();
}

MessageText extract_text(std::string_view raw) {
    MessageText out;
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!msg) return out;
    if (const char* subject = g_mime_message_get_subject(msg.get()))
        out.subject = one_line(subject);
    Found found;
    walk(g_mime_message_get_mime_part(msg.get()), 0, found);
    out.body = shape_body(found.plain.empty() ? strip_tags(found.html) : found.plain);
    return out;
}

std::string shape_body(std::string_view text) {
    std::string out;
    int pending_blank = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line == "-- ") break;  // signature separator
        std::string shaped = one_line(line);
        if (shaped.empty()) {
            pending_blank = out.empty() ? 0 : 1;
            continue;
        }
        if (!out.empty()) out += pending_blank ? "\n\n" : "\n";
        pending_blank = 0;
        out += shaped;
    }
    return out;
}

std::string compose_sms(const MessageText& m) {
    std::string text = m.subject;
    if (!text.empty() && !m.body.empty()) text += "\n";
    text += m.body;
    return cut_utf16(text, kTwilioMaxChars);
}

}  // namespace smsm
