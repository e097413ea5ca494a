// Mapping look-alike characters to GSM-7 (gsm_transliterate = yes), so that one curly quote
// or dash does not turn a whole message into UCS-2 and double its cost.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

// Returns the text with every non-GSM-7 character replaced by its ICU "Latin-ASCII"
// transliteration, when that makes the whole text GSM-7; otherwise the text unchanged (a
// message that stays UCS-2 keeps its original characters). Thread-safe; the first call that
// meets such a character builds ICU's transliterator (about 25 ms).
std::string gsm_transliterate(std::string_view utf8);

}  // namespace smsm
