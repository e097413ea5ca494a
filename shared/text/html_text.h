// HTML to readable text with libxml2's HTML parser (SPEC §6): style, script, head and
// comments dropped; block elements and <br> become line breaks; table cells are separated
// by " | "; list items start with "- "; entities decoded; link text kept.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// Call once at program start, before any thread starts.
void html_text_init();

// The input must be UTF-8. The output still needs shape_body() for white space.
std::string html_to_text(std::string_view html);

}  // namespace smsm
