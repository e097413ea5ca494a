// Turning a captured mail into SMS text.
#include "shared/text/message_text.h"

#include <gmime/gmime.h>

#include <memory>
#include <optional>
#include <utility>

#include "shared/base/strings.h"
#include "shared/text/gsm_transliterate.h"
#include "shared/text/html_text.h"
#include "shared/text/mime_limit.h"
#include "shared/text/segments.h"

namespace smsm {

namespace {

constexpr int kMaxMimeDepth = 32;

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

bool is_one_of(const char* charset, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (g_ascii_strcasecmp(charset, n) == 0) return true;
    return false;
}

std::string convert(const std::string& bytes, const char* from) {
    gsize written = 0;
    std::unique_ptr<char, GFree> out(g_convert(bytes.data(), static_cast<gssize>(bytes.size()),
                                               "UTF-8", from, nullptr, &written, nullptr));
    return out ? std::string(out.get(), written) : std::string();
}

// The transfer-decoded text of a part, as UTF-8. Mislabelled mail is common: UTF-8 bytes
// under "us-ascii" or "iso-8859-1", Latin-1 bytes under "utf-8". Valid UTF-8 is taken as
// such under an ASCII, UTF-8 or Latin label; another declared charset is converted; bytes
// that are not UTF-8 under a UTF-8/ASCII label (or that fail to convert) are read as
// windows-1252.
std::string part_text(GMimeObject* obj) {
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
    if (!content) return {};
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    if (g_mime_data_wrapper_write_to_stream(content, mem.get()) < 0) return {};
    GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    std::string bytes(reinterpret_cast<const char*>(array->data), array->len);
    const char* charset = g_mime_object_get_content_type_parameter(obj, "charset");
    bool utf8 = g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr);
    bool ascii_or_utf8 = !charset || is_one_of(charset, {"us-ascii", "ascii", "utf-8", "utf8"});
    bool latin = charset && is_one_of(charset, {"iso-8859-1", "latin1", "windows-1252", "cp1252",
                                                "iso-8859-15"});
    if (utf8 && (ascii_or_utf8 || latin)) return bytes;
    if (!ascii_or_utf8) {
        std::string text = convert(bytes, charset);
        if (!text.empty() || bytes.empty()) return text;
        if (utf8) return bytes;
    }
    std::string text = convert(bytes, "WINDOWS-1252");
    if (!text.empty()) return text;
    std::unique_ptr<char, GFree> valid(
        g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
    return valid ? std::string(valid.get()) : std::string();
}

struct Found {
    std::string plain;
    std::string html;
    GMimeMessage* forwarded = nullptr;  // the first message/rfc822 part (a forwarded mail)
    int forwarded_depth = 0;
};

// Depth-first walk: the first non-attachment text/plain wins, the first text/html is the
// fallback. A message/rfc822 part (a forward as attachment, inline or not) is not walked
// here: its text follows the note around it (forwarded_text()).
void walk(GMimeObject* obj, int depth, Found& found) {
    if (!obj || depth > kMaxMimeDepth) return;
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1, found);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner && !found.forwarded) {
            found.forwarded = inner;
            found.forwarded_depth = depth + 1;
        }
        return;
    }
    if (!found.plain.empty()) return;
    if (!GMIME_IS_TEXT_PART(obj) || g_mime_part_is_attachment(GMIME_PART(obj))) return;
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (g_mime_content_type_is_type(ct, "text", "plain")) {
        std::string text = part_text(obj);
        if (!trim(text).empty()) found.plain = std::move(text);
    } else if (g_mime_content_type_is_type(ct, "text", "html") && found.html.empty()) {
        found.html = part_text(obj);
    }
}

// Collapses runs of white space (newlines and the no-break space U+00A0 included) to one
// space, and trims.
std::string one_line(std::string_view s) {
    std::string out;
    bool space = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool nbsp = c == '\xc2' && i + 1 < s.size() && s[i + 1] == '\xa0';
        bool ws = nbsp || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
        if (nbsp) ++i;
        if (ws && !space && !out.empty())
            out.push_back(' ');
        else if (!ws)
            out.push_back(c);
        space = ws;
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (std::size_t pos = s.find(from); pos != std::string::npos;
         pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

constexpr std::string_view kTokens[] = {"{subject}", "{body}", "{from}", "{from_name}", "{sender}"};

// Where shape_body is relative to an inline forward.
enum class Forward {
    None,     // not after a forward marker
    Marker,   // just after one
    Headers,  // in the forwarded mail's header block
    Body,     // in the forwarded text: lines quoted with ">" are kept
};

bool contains_nocase(std::string_view s, std::string_view what) {
    for (std::size_t i = 0; i + what.size() <= s.size(); ++i)
        if (g_ascii_strncasecmp(s.data() + i, what.data(), what.size()) == 0) return true;
    return false;
}

// "---------- Forwarded message ---------", "-------- Original Message --------", "-----Original
// Message-----", "Begin forwarded message:".
bool is_forward_marker(std::string_view line) {
    if (line.size() > 80) return false;
    if (g_ascii_strcasecmp(std::string(line).c_str(), "Begin forwarded message:") == 0) return true;
    bool dashes =
        line.size() >= 10 && line.substr(0, 3) == "---" && line.substr(line.size() - 3) == "---";
    return dashes && (contains_nocase(line, "forwarded message") ||
                      contains_nocase(line, "original message"));
}

// A header line of a forwarded mail's block: its lowercased name and its value.
std::optional<std::pair<std::string, std::string>> forwarded_field(std::string_view line) {
    for (std::string_view name : {"from", "sent", "date", "to", "cc", "subject"}) {
        if (line.size() > name.size() && line[name.size()] == ':' &&
            g_ascii_strncasecmp(line.data(), name.data(), name.size()) == 0)
            return std::pair{std::string(name), std::string(trim(line.substr(name.size() + 1)))};
    }
    return std::nullopt;
}

// The subject without "Fwd:", "FW:", "Re:" prefixes, for comparing.
std::string_view bare_subject(std::string_view s) {
    for (bool again = true; again;) {
        again = false;
        s = trim(s);
        for (std::string_view prefix : {"fwd:", "fw:", "re:"}) {
            if (s.size() >= prefix.size() &&
                g_ascii_strncasecmp(s.data(), prefix.data(), prefix.size()) == 0) {
                s.remove_prefix(prefix.size());
                again = true;
            }
        }
    }
    return s;
}

// The forwarded mail's subject says nothing new when the forward's own subject is it.
bool same_subject(std::string_view forwarded, std::string_view outer) {
    std::string_view a = bare_subject(forwarded), b = bare_subject(outer);
    return a.size() == b.size() && g_ascii_strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The shaped text of a message: its own text, then that of the first mail forwarded in it
// (a message/rfc822 part), introduced by that mail's subject, so that a forwarded alert keeps
// its text after the forwarder's note.
std::string message_body(GMimeMessage* msg, int depth, std::string_view cut_marker,
                         std::string_view subject) {
    Found found;
    walk(g_mime_message_get_mime_part(msg), depth, found);
    std::string body = shape_body(found.plain.empty() ? html_to_text(found.html) : found.plain,
                                  cut_marker, subject);
    if (!found.forwarded || found.forwarded_depth > kMaxMimeDepth) return body;
    std::string inner;
    if (const char* s = g_mime_message_get_subject(found.forwarded))
        if (!same_subject(one_line(s), subject)) inner = one_line(s);
    std::string text =
        message_body(found.forwarded, found.forwarded_depth, cut_marker, one_line(subject));
    if (!inner.empty() && !text.empty()) inner += "\n";
    inner += text;
    if (!body.empty() && !inner.empty()) body += "\n\n";
    return body + inner;
}

}  // namespace

TextOptions text_options(const Config& cfg) {
    return TextOptions{cfg.sms_template, cfg.body_cut_marker, cfg.max_segments,
                       cfg.gsm_transliterate};
}

void message_text_init() {
    g_mime_init();
    html_text_init();
    // GObject classes, GMime's charset tables and GLib's time zone cache are set up on first
    // use; do that now, on one thread, rather than in the first concurrent callbacks.
    static constexpr std::string_view kWarmUp =
        "From: A <a@example.com>\r\nDate: Wed, 25 Nov 2026 19:00:00 +0000\r\nSubject: "
        "=?UTF-8?B?w6k=?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\n"
        "<p>=E9</p>\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
        "base64\r\n\r\nw6k=\r\n--b--\r\n";
    compose_sms(extract_text(kWarmUp), TextOptions{});
}

MessageText extract_text(std::string_view raw, std::string_view cut_marker) {
    MessageText out;
    // GMime builds the whole tree before we walk it: let it see only a bounded structure.
    MimeLimit limit = mime_limit(raw);
    out.mime_cut = limit.cut;
    std::string_view rest = raw.substr(limit.body_begin, limit.keep - limit.body_begin);
    GByteArray* bytes =
        g_byte_array_sized_new(static_cast<guint>(limit.top_headers.size() + rest.size()));
    g_byte_array_append(bytes, reinterpret_cast<const guint8*>(limit.top_headers.data()),
                        static_cast<guint>(limit.top_headers.size()));
    g_byte_array_append(bytes, reinterpret_cast<const guint8*>(rest.data()),
                        static_cast<guint>(rest.size()));
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(bytes));  // owns bytes
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!msg) return out;
    if (const char* subject = g_mime_message_get_subject(msg.get()))
        out.subject = one_line(subject);
    if (InternetAddressList* from = g_mime_message_get_from(msg.get());
        from && internet_address_list_length(from) > 0) {
        InternetAddress* a = internet_address_list_get_address(from, 0);
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            out.from_addr = addr ? one_line(addr) : "";
        }
        const char* name = internet_address_get_name(a);
        out.from_name = name && *name ? one_line(name) : out.from_addr;
    }
    out.body = message_body(msg.get(), 0, cut_marker, out.subject);
    return out;
}

std::string collapse_space(std::string_view text) {
    std::string out;
    bool pending_blank = false;
    for (std::size_t pos = 0; pos <= text.size();) {
        auto nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        std::string shaped = one_line(line);
        if (shaped.empty()) {
            pending_blank = !out.empty();
            continue;
        }
        if (!out.empty()) out += pending_blank ? "\n\n" : "\n";
        pending_blank = false;
        out += shaped;
    }
    return out;
}

std::string shape_body(std::string_view text, std::string_view cut_marker,
                       std::string_view subject) {
    std::string out;
    std::size_t before_last = 0;  // the size of out before the last kept line was added
    bool pending_blank = false;
    Forward forward = Forward::None;
    bool after_headers = false;  // blank lines after a forwarded header block say nothing
    auto keep = [&](const std::string& shaped) {
        after_headers = false;
        before_last = out.size();
        if (!out.empty()) out += pending_blank ? "\n\n" : "\n";
        pending_blank = false;
        out += shaped;
    };
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line == "-- ") break;  // signature separator
        bool cut = false;
        if (!cut_marker.empty()) {
            if (auto at = line.find(cut_marker); at != std::string_view::npos) {
                line = line.substr(0, at);
                cut = true;
            }
        }
        std::string shaped = one_line(line);
        if (is_forward_marker(shaped)) {
            forward = Forward::Marker;
            pending_blank = !out.empty();
            if (cut) break;
            continue;
        }
        if (forward != Forward::None && !shaped.empty() && shaped.front() == '>')
            shaped = one_line(std::string_view(shaped).substr(1));  // quoted by the forwarder
        if (forward == Forward::Marker || forward == Forward::Headers) {
            // The forwarded mail's header block: only its subject is kept.
            if (auto field = forwarded_field(shaped)) {
                forward = Forward::Headers;
                if (field->first == "subject" && !field->second.empty() &&
                    !same_subject(field->second, subject))
                    keep(field->second);
                if (cut) break;
                continue;
            }
            if (shaped.empty()) {  // blank lines around the block say nothing
                if (forward == Forward::Headers) {
                    forward = Forward::Body;
                    after_headers = true;
                }
                continue;
            }
            forward = Forward::Body;
        }
        if (forward == Forward::None && !shaped.empty() && shaped.front() == '>') {
            // A quoted reply: drop it, and the "On ..., X wrote:" line just before it.
            if (ends_with(out, "wrote:")) {
                out.resize(before_last);
                pending_blank = false;
            }
            if (cut) break;
            continue;
        }
        if (shaped.empty() && !after_headers)
            pending_blank = !out.empty();
        else if (!shaped.empty())
            keep(shaped);
        if (cut) break;
    }
    return out;
}

std::string compose_sms(const MessageText& m, const TextOptions& o,
                        std::string_view envelope_sender) {
    std::string text;
    if (o.sms_template.empty()) {
        text = m.subject;
        if (!text.empty() && !m.body.empty()) text += "\n";
        text += m.body;
    } else {
        text = o.sms_template;
        replace_all(text, "\\n", "\n");
        // One pass per token; substituted text is never scanned again for tokens.
        std::string out;
        for (std::size_t i = 0; i < text.size();) {
            bool hit = false;
            for (std::string_view tok : kTokens) {
                if (text.compare(i, tok.size(), tok) != 0) continue;
                out += tok == "{subject}"     ? m.subject
                       : tok == "{body}"      ? m.body
                       : tok == "{from}"      ? m.from_addr
                       : tok == "{from_name}" ? m.from_name
                                              : std::string(envelope_sender);
                i += tok.size();
                hit = true;
                break;
            }
            if (!hit) out.push_back(text[i++]);
        }
        text = collapse_space(out);
    }
    if (o.transliterate) text = gsm_transliterate(text);
    return fit_segments(text, o.max_segments);
}

std::string check_template(std::string_view tmpl) {
    for (std::size_t open = tmpl.find('{'); open != std::string_view::npos;
         open = tmpl.find('{', open + 1)) {
        auto close = tmpl.find('}', open);
        if (close == std::string_view::npos) return "unclosed \"{\"";
        std::string_view tok = tmpl.substr(open, close - open + 1);
        bool known = false;
        for (std::string_view k : kTokens) known = known || k == tok;
        if (!known)
            return "unknown field " + std::string(tok) +
                   " (known: {subject} {body} {from} {from_name} {sender})";
    }
    return {};
}

}  // namespace smsm
