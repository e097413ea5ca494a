// HTML to readable text with libxml2's HTML parser. The parser runs with NONET (no external
// fetches) and its own depth limit; our walk has one too.
#include "shared/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <array>
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
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
}

void walk(const xmlNode* n, int depth, std::string& out) {
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) out += reinterpret_cast<const char*>(n->content);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || is_skipped(n) || depth >= kMaxDepth) continue;
        if (name_in(n, {"br"})) {
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
        walk(n->children, depth + 1, out);
        if (block) newline(out);
    }
}

}  // namespace

void html_text_init() {
    xmlInitParser();
}

std::string html_to_text(std::string_view html) {
    if (html.empty() || html.size() > INT_MAX) return {};
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                  HTML_PARSE_NONET | HTML_PARSE_NOBLANKS | HTML_PARSE_COMPACT;
    std::unique_ptr<xmlDoc, DocFree> doc(
        htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8", options));
    if (!doc) return {};
    std::string out;
    walk(xmlDocGetRootElement(doc.get()), 0, out);
    return out;
}

}  // namespace smsm
