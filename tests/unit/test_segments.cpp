// Segment counting and cutting: GSM-7 (extension characters cost two septets), UCS-2 (UTF-16
// units, surrogate pairs never split), and the boundaries carriers use.
#include <doctest/doctest.h>

#include "shared/text/segments.h"

using namespace smsm;

namespace {
std::string rep(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}
const std::string kEuro = "\xe2\x82\xac";      // GSM-7 extension: 2 septets
const std::string kFire = "\xf0\x9f\x94\xa5";  // U+1F525: 2 UTF-16 units
const std::string kYen = "\xc2\xa5";           // GSM-7 basic
const std::string kCyr = "\xd0\x96";           // UCS-2
}  // namespace

TEST_CASE("segment counts") {
    struct Case {
        const char* name;
        std::string text;
        Encoding enc;
        int segments;
        std::size_t units;
    };
    const Case cases[] = {
        {"empty", "", Encoding::Gsm7, 0, 0},
        {"exactly 160", rep("a", 160), Encoding::Gsm7, 1, 160},
        {"161", rep("a", 161), Encoding::Gsm7, 2, 161},
        {"306 = 2 x 153", rep("a", 306), Encoding::Gsm7, 2, 306},
        {"307", rep("a", 307), Encoding::Gsm7, 3, 307},
        {"basic-table non-ASCII stays GSM-7", rep(kYen, 160), Encoding::Gsm7, 1, 160},
        {"extension chars count 2", rep(kEuro, 80), Encoding::Gsm7, 1, 160},
        {"extension char over 160", rep("a", 159) + kEuro, Encoding::Gsm7, 2, 161},
        {"extension char not split at 153", rep("a", 152) + kEuro + rep("a", 10), Encoding::Gsm7, 2,
         164},
        {"extension char pushed to the next part", rep("a", 152) + kEuro + rep("a", 152),
         Encoding::Gsm7, 3, 306},
        {"one non-GSM char makes UCS-2", kCyr + rep("a", 69), Encoding::Ucs2, 1, 70},
        {"UCS-2 71", kCyr + rep("a", 70), Encoding::Ucs2, 2, 71},
        {"UCS-2 134 = 2 x 67", kCyr + rep("a", 133), Encoding::Ucs2, 2, 134},
        {"UCS-2 135", kCyr + rep("a", 134), Encoding::Ucs2, 3, 135},
        {"emoji are 2 units", rep(kFire, 35), Encoding::Ucs2, 1, 70},
        {"emoji over 70", rep(kFire, 35) + "a", Encoding::Ucs2, 2, 71},
        {"surrogate pair not split at 67", rep("a", 66) + kFire + rep("a", 66), Encoding::Ucs2, 3,
         134},
        {"surrogate pair fits exactly", rep("a", 65) + kFire + rep("a", 67), Encoding::Ucs2, 2,
         134},
        {"invalid UTF-8 is UCS-2 U+FFFD", "\xff", Encoding::Ucs2, 1, 1},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        SegmentCount got = count_segments(c.text);
        CHECK(got.encoding == c.enc);
        CHECK(got.segments == c.segments);
        CHECK(got.units == c.units);
    }
}

TEST_CASE("cutting to max_segments") {
    CHECK(fit_segments(rep("a", 160), 1) == rep("a", 160));
    std::string cut = fit_segments(rep("a", 161), 1);
    CHECK(cut == rep("a", 157) + "...");
    CHECK(count_segments(cut).segments == 1);
    // On a word boundary when there is one near the end.
    std::string words = rep("word ", 40);  // 200 chars
    std::string w = fit_segments(words, 1);
    CHECK(w.size() <= 160);
    CHECK(w.substr(w.size() - 7) == "word...");
    // UCS-2: 2 segments are 134 units; an emoji is never cut in half.
    std::string e = fit_segments(rep(kFire, 100), 2);
    CHECK(count_segments(e).segments == 2);
    CHECK(count_segments(e).units <= 134);
    CHECK(e.substr(e.size() - 3) == "...");
    CHECK(utf8_to_u32(e).find(U'\uFFFD') == std::u32string::npos);
    // An extension character at the boundary is dropped whole.
    std::string x = fit_segments(rep("a", 156) + kEuro + rep("a", 10), 1);
    CHECK(x == rep("a", 156) + "...");
}

TEST_CASE("UTF-8 round trip and invalid input") {
    std::string s = "a\xc3\xa9" + kEuro + kFire;
    CHECK(u32_to_utf8(utf8_to_u32(s)) == s);
    CHECK(utf8_to_u32("\xc0\xaf") == U"\uFFFD\uFFFD");        // overlong
    CHECK(utf8_to_u32("\xed\xa0\x80").front() == U'\uFFFD');  // surrogate
    // Truncated: one U+FFFD for the maximal ill-formed subpart, as Unicode recommends.
    CHECK(utf8_to_u32("\xe2\x82") == U"\uFFFD");
    CHECK(utf8_to_u32("\xe2\x82x") == U"\uFFFDx");
    CHECK(u32_to_utf8(std::u32string{U'a', char32_t{0x110000}}) == "a\xef\xbf\xbd");  // too big
}
