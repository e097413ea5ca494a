// HTML to readable text with libxml2's HTML parser. The parser runs with NONET (no external
// fetches) and its own depth limit; our walk has one too.
#include "shared/text/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <array>
#include <cctype>
#include <climits>
#include <memory>

namespace smsm {

namespace {

constexpr int kMaxDepth = 256;

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

bool name_in(const xmlNode* n, std::initializer_list<const char*> names) {
    const char* name = reinterpret_cast<const char*>(n->name);
    for (const char* s : names)
        if (xmlStrcasecmp(reinterpret_cast<const xmlChar*>(name),
                          reinterpret_cast<const xmlChar*>(s)) == 0)
            return true;
    return false;
}

bool is_skipped(const xmlNode* n) {
    return name_in(n, {"head", "script", "style", "title", "noscript", "template"});
}

bool is_block(const xmlNode* n) {
    return name_in(n, {"p",       "div",    "tr",   "table",      "thead",   "tbody",   "tfoot",
                       "ul",      "ol",     "li",   "h1",         "h2",      "h3",      "h4",
                       "h5",      "h6",     "pre",  "blockquote", "section", "article", "header",
                       "footer",  "hr",     "dl",   "dt",         "dd",      "form",    "fieldset",
                       "address", "center", "main", "nav",        "aside",   "caption"});
}

bool is_cell(const xmlNode* n) {
    return n && n->type == XML_ELEMENT_NODE && name_in(n, {"td", "th"});
}

void newline(std::string& out) {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
}

// Source white space in HTML is not layout: runs of it become one space (except in <pre>).
void append_text(std::string& out, const char* text, bool pre) {
    if (pre) {
        out += text;
        return;
    }
    for (const char* p = text; *p; ++p) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f';
        if (!ws)
            out.push_back(*p);
        else if (!out.empty() && out.back() != ' ' && out.back() != '\n')
            out.push_back(' ');
    }
}

void walk(const xmlNode* n, int depth, bool pre, std::string& out) {
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) append_text(out, reinterpret_cast<const char*>(n->content), pre);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || is_skipped(n) || depth >= kMaxDepth) continue;
        if (name_in(n, {"br"})) {
            while (!out.empty() && out.back() == ' ') out.pop_back();
            out.push_back('\n');
            continue;
        }
        bool block = is_block(n);
        if (block) newline(out);
        if (is_cell(n)) {
            const xmlNode* prev = n->prev;
            while (prev && prev->type != XML_ELEMENT_NODE) prev = prev->prev;
            if (is_cell(prev)) out += " | ";
        }
        if (name_in(n, {"li"})) out += "- ";
        walk(n->children, depth + 1, pre || name_in(n, {"pre"}), out);
        if (block) newline(out);
    }
}

// Browsers decode the commonest legacy entities without their ";" ("&amp 8", "&copy 2014");
// libxml2 does not, so they get one before parsing.
std::string add_legacy_semicolons(std::string_view html) {
    static constexpr std::string_view kLegacy[] = {"amp",  "lt",   "gt", "quot",
                                                   "nbsp", "copy", "reg"};
    std::string out;
    out.reserve(html.size());
    for (std::size_t i = 0; i < html.size(); ++i) {
        out.push_back(html[i]);
        if (html[i] != '&') continue;
        for (std::string_view name : kLegacy) {
            std::size_t end = i + 1 + name.size();
            if (html.compare(i + 1, name.size(), name) != 0) continue;
            bool terminated =
                end < html.size() &&
                (std::isalnum(static_cast<unsigned char>(html[end])) || html[end] == ';');
            if (terminated) break;
            out += name;
            out.push_back(';');
            i = end - 1;
            break;
        }
    }
    return out;
}

}  // namespace

void html_text_init() {
    xmlInitParser();
}

std::string html_to_text(std::string_view html) {
    if (html.empty() || html.size() > INT_MAX / 2) return {};
    std::string fixed = add_legacy_semicolons(html);
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                  HTML_PARSE_NONET | HTML_PARSE_NOBLANKS | HTML_PARSE_COMPACT;
    std::unique_ptr<xmlDoc, DocFree> doc(
        htmlReadMemory(fixed.data(), static_cast<int>(fixed.size()), nullptr, "UTF-8", options));
    if (!doc) return {};
    std::string out;
    walk(xmlDocGetRootElement(doc.get()), 0, false, out);
    return out;
}

}  // namespace smsm
