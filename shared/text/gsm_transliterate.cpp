// Look-alikes to GSM-7 with ICU's Latin-ASCII transliterator, applied only to characters
// that GSM-7 lacks (accented letters that GSM-7 has, like é, stay as they are).
#include "shared/text/gsm_transliterate.h"

#include <unicode/translit.h>
#include <unicode/unistr.h>

#include <memory>
#include <mutex>

#include "shared/text/segments.h"

namespace smsm {

namespace {

std::mutex g_mutex;  // guards the prototype: built once, cloned once per thread
std::unique_ptr<icu::Transliterator> g_prototype;
bool g_built = false;

// This thread's copy of ICU's Latin-ASCII transliterator (an ICU Transliterator is not
// thread-safe: each thread uses its own clone, with no lock held while it works). The
// prototype is built on first use: ICU's transliterator registry and the compiled rules
// touch about 2.3 MiB of ICU data, code and heap that a relay whose alerts are all GSM-7
// never needs. Null when ICU cannot build it.
icu::Transliterator* latin_ascii() {
    thread_local std::unique_ptr<icu::Transliterator> mine;
    thread_local bool tried = false;
    if (!tried) {
        tried = true;
        std::lock_guard lock(g_mutex);
        if (!g_built) {
            g_built = true;
            UErrorCode status = U_ZERO_ERROR;
            g_prototype.reset(
                icu::Transliterator::createInstance("Latin-ASCII", UTRANS_FORWARD, status));
            if (U_FAILURE(status)) g_prototype.reset();
        }
        if (g_prototype) mine.reset(g_prototype->clone());
    }
    return mine.get();
}

// Spaces ICU leaves alone or maps oddly; everything else is ICU's.
char32_t space_like(char32_t c) {
    return (c == 0x00A0 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
            c == 0x3000 || c == U'\t')
               ? U' '
               : c;
}

}  // namespace

std::string gsm_transliterate(std::string_view utf8) {
    std::u32string text = utf8_to_u32(utf8);
    std::u32string out;
    out.reserve(text.size());
    for (char32_t c : text) {
        c = space_like(c);
        if (gsm7_cost(c) > 0) {
            out.push_back(c);
            continue;
        }
        if (c == 0x200B || c == 0xFEFF || c == 0x00AD) continue;  // zero-width and soft hyphen
        icu::Transliterator* latin = latin_ascii();
        if (!latin) return std::string(utf8);
        icu::UnicodeString one =
            icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(&c), 1);
        latin->transliterate(one);
        std::string mapped;
        one.toUTF8String(mapped);
        std::u32string m = utf8_to_u32(mapped);
        bool gsm = !m.empty();
        for (char32_t x : m) gsm = gsm && gsm7_cost(x) > 0;
        if (!gsm) return std::string(utf8);  // stays UCS-2 anyway: keep the original
        out += m;
    }
    return u32_to_utf8(out);
}

}  // namespace smsm
