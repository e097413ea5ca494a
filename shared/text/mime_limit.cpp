// The MIME structure budget (see mime_limit.h). Lines end at '\n' (a '\r' before it is
// ignored), as GMime 3 reads them. GMime builds objects in these places only:
//   - a part for each boundary line, and every boundary line starts with "--": each such line
//     counts as a part, wherever it is (a "-- " signature or a "-----" rule counts too), and
//     also as a header line inside a header block, where GMime reads it as one;
//   - a header for each field of a header block. A header block starts at the top of the
//     message, after a boundary line, and at the start of the body of a part that GMime parses
//     as a message (message/rfc822 and the like, or a part of a multipart/digest, whose default
//     type is message/rfc822); it ends at a blank line. Every line of such a block counts, also
//     one that starts with white space: it usually continues the field before it, but GMime
//     reads " : x" as a field of its own at the start of a block or after an invalid line;
//   - an address for each address of a message's address fields, and a parameter for each
//     parameter of a Content-Type or Content-Disposition field: the bytes of these fields
//     (continuation lines included) count.
// Whether a body is a message is decided from the last Content-Type line of the block before
// it, as GMime does; when that line is not a plain "type/subtype" we cannot be sure, so the
// body is counted as a header block (over-counting only makes the cut come sooner).
//
// Only the top-level header block is known for certain to be one (the others may be text that
// merely follows a "-----" line), so only there are fields dropped or shortened; elsewhere
// the budget cuts the message at the start of the line that would exceed it.
#include "shared/text/mime_limit.h"

namespace smsm {

namespace {

enum class Block { Top, AfterBoundary, InnerMessage };
enum class Field { Other, From, Address, Params };
enum class ContentType { None, Message, Other, Unknown };

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

bool is_token(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '+' || c == '.' || c == '_';
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// The field name of a header line (before the colon, trailing blanks trimmed, as GMime takes
// it); empty when the line has no colon.
std::string_view field_name(std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return {};
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
    return name;
}

Field field_kind(std::string_view name) {
    if (iequals_ascii(name, "from")) return Field::From;
    for (std::string_view a : {"sender", "reply-to", "to", "cc", "bcc"})
        if (iequals_ascii(name, a)) return Field::Address;
    if (iequals_ascii(name, "content-type") || iequals_ascii(name, "content-disposition"))
        return Field::Params;
    return Field::Other;
}

// What a Content-Type line says about its part: a message, something else, or not plainly
// "type/subtype" (a folded or commented value: GMime may still read it as a message).
ContentType content_type_of(std::string_view line) {
    std::string_view v = line.substr(line.find(':') + 1);
    while (!v.empty() && is_blank(v.front())) v.remove_prefix(1);
    std::size_t n = 0;
    while (n < v.size() && is_token(v[n])) ++n;
    if (n == 0 || n + 1 >= v.size() || v[n] != '/' || !is_token(v[n + 1]))
        return ContentType::Unknown;
    return iequals_ascii(v.substr(0, n), "message") ? ContentType::Message : ContentType::Other;
}

}  // namespace

MimeLimit mime_limit(std::string_view raw, const MimeCaps& caps) {
    MimeLimit out;
    bool in_headers = true;
    bool top = true;  // still in the top-level header block
    Block block = Block::Top;
    ContentType type = ContentType::None;  // of the current header block: its last Content-Type
    Field field = Field::Other;            // the field the current header line belongs to
    std::size_t from_left = caps.from_bytes;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        if (top) out.body_begin = pos;
        auto nl = raw.find('\n', pos);
        std::size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
        std::string_view whole = raw.substr(pos, next - pos);  // with its line end
        std::string_view line = whole;
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

        if (line.size() >= 2 && line[0] == '-' && line[1] == '-') {
            // Inside a header block GMime takes it for a header field ("--x: y" is one).
            if (out.parts == caps.parts || (in_headers && out.header_lines == caps.header_lines))
                break;
            ++out.parts;
            if (in_headers) ++out.header_lines;
            top = false;
            in_headers = true;
            block = Block::AfterBoundary;
            type = ContentType::None;
            field = Field::Other;
        } else if (in_headers && line.empty()) {
            // The end of a header block: is the body a message with a header block of its own?
            bool message = type == ContentType::Message || type == ContentType::Unknown ||
                           (type == ContentType::None && block == Block::AfterBoundary);
            if (top) {
                out.top_headers.append(whole);
                out.body_begin = next;
                top = false;
            }
            in_headers = message;
            block = Block::InnerMessage;
            type = ContentType::None;
            field = Field::Other;
        } else if (in_headers) {
            if (out.header_lines == caps.header_lines) break;
            ++out.header_lines;
            if (!is_blank(line[0])) {
                std::string_view name = field_name(line);
                field = field_kind(name);
                if (field == Field::Params && iequals_ascii(name, "content-type"))
                    type = content_type_of(line);
            }
            bool budget = field == Field::Params || (!top && field != Field::Other);
            if (budget) {
                if (out.field_bytes + whole.size() > caps.field_bytes) break;
                out.field_bytes += whole.size();
            }
            if (top && field == Field::From) {  // keep from_bytes of it, a whole line if it can
                std::string_view kept = whole.substr(0, from_left);
                from_left -= kept.size();
                if (!kept.empty() && kept.back() != '\n') {
                    while (!kept.empty() && kept.back() == '\r') kept.remove_suffix(1);
                    out.top_headers.append(kept).append("\r\n");
                } else {
                    out.top_headers.append(kept);
                }
            } else if (top && field != Field::Address) {
                out.top_headers.append(whole);
            }
        }
        pos = next;
    }
    if (top) out.body_begin = pos;
    out.keep = pos;
    out.cut = pos < raw.size();
    return out;
}

}  // namespace smsm
