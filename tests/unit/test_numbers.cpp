// Phone number parsing, masking, CIDR matching and address splitting.
#include <doctest/doctest.h>

#include "shared/base/cidr.h"
#include "shared/base/mask.h"
#include "shared/policy/address.h"
#include "shared/policy/phone.h"

using namespace smsm;

TEST_CASE("local parts become E.164 numbers") {
    struct Case {
        const char* local;
        const char* region;
        const char* want;  // "" = invalid
        const char* want_region;
    };
    const Case cases[] = {
        {"+14155550123", "US", "+14155550123", "US"},
        {"4155550123", "US", "+14155550123", "US"},
        {"14155550123", "US", "+14155550123", "US"},
        {"415.555.0123", "US", "+14155550123", "US"},
        {"415-555-0123", "US", "+14155550123", "US"},
        {"(415)555-0123", "US", "+14155550123", "US"},
        {"+33612345678", "US", "+33612345678", "FR"},
        {"33612345678", "US", "+33612345678", "FR"},
        {"0612345678", "FR", "+33612345678", "FR"},
        {"+16135550123", "US", "+16135550123", "CA"},
        {"447400123456", "US", "+447400123456", "GB"},  // the example in sms-milter.conf(5)
        {"12", "US", "", ""},
        {"not-a-number", "US", "", ""},
        {"", "US", "", ""},
        {"+1415+5550123", "US", "", ""},
        {"4155550123x", "US", "", ""},
        {"1234567890123456789012345678901234567890123456789012345678901234567890", "US", "", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.local);
        auto n = parse_phone(c.local, c.region);
        if (*c.want == '\0') {
            CHECK_FALSE(n);
        } else {
            REQUIRE(n);
            CHECK(n->e164 == c.want);
            CHECK(n->region == c.want_region);
        }
    }
}

TEST_CASE("masking keeps only the ends") {
    CHECK(mask_number("+14155551212") == "+1415***1212");
    CHECK(mask_number("+3361234") == "+3***34");
    CHECK(mask_number("123") == "***");
    CHECK(mask_address("<4155551212@sms.example.com>") == "<***1212@sms.example.com>");
    CHECK(mask_address("<+14155551212@sms.example.com>") == "<***1212@sms.example.com>");
    CHECK(mask_address("<12@sms.example.com>") == "<***@sms.example.com>");
    CHECK(mask_address("<12\r\n45678901@x>") == "<***8901@x>");
    CHECK(mask_address("<1234567\r\n@x>") == "<***67??@x>");
}

TEST_CASE("numbers quoted in a free text (Twilio's error messages) are masked") {
    struct Case {
        const char* in;
        const char* want;
    };
    const Case cases[] = {
        {"The 'To' number +14155550100 is not a valid phone number.",
         "The 'To' number +1415***0100 is not a valid phone number."},
        {"The 'To' phone number: +14155550100, is not currently reachable",
         "The 'To' phone number: +1415***0100, is not currently reachable"},
        {"To number: whatsapp:+447400123456", "To number: whatsapp:+4474***3456"},
        {"'From' +1 (415) 555-0100 unverified", "'From' +1415***0100 unverified"},
        {"number (415) 555-0100 here", "number ***0100 here"},
        {"4155550100", "***0100"},
        {"+14155550100abc", "+1415***0100abc"},
        {"GET /Messages.json?To=%2B14155550100&PageSize=50",
         "GET /Messages.json?To=+1415***0100&PageSize=50"},
        {"To=14155550100&x", "To=***0100&x"},
        {"+3361234 short", "+3***34 short"},
        // left alone: codes, statuses, times, IP addresses, ports, SIDs, short numbers
        {"HTTP 400 code 21211: Invalid 'To' Phone Number",
         "HTTP 400 code 21211: Invalid 'To' Phone Number"},
        {"Failed to connect to 127.0.0.1 port 8443 after 3 ms",
         "Failed to connect to 127.0.0.1 port 8443 after 3 ms"},
        {"sid SM0123456789abcdef0123456789abcdef at 19:00:00",
         "sid SM0123456789abcdef0123456789abcdef at 19:00:00"},
        {"AC1234567890 x4155550100 12345678px", "AC1234567890 x4155550100 12345678px"},
        {"short code 898211", "short code 898211"},
        {"a + b - 3 (4)", "a + b - 3 (4)"},
        {"+", "+"},
        {"%2B", "%2B"},
        {"", ""},
        // already masked text stays as it is
        {"The 'To' number +1415***0100 is", "The 'To' number +1415***0100 is"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(mask_numbers_in_text(c.in) == c.want);
    }
}

TEST_CASE("CIDR matching, IPv4 and IPv6") {
    struct Case {
        const char* cidr;
        const char* addr;
        bool want;
    };
    const Case cases[] = {
        {"127.0.0.0/8", "127.0.0.1", true},
        {"127.0.0.0/8", "127.255.0.9", true},
        {"127.0.0.0/8", "128.0.0.1", false},
        {"127.0.0.1", "127.0.0.1", true},
        {"127.0.0.1/32", "127.0.0.2", false},
        {"10.1.2.3/8", "10.200.0.1", true},
        {"::1", "::1", true},
        {"::1", "::2", false},
        {"[2001:db8::]/32", "2001:db8:ffff::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"127.0.0.0/8", "::ffff:127.0.0.1", true},
        {"::1", "127.0.0.1", false},
        {"0.0.0.0/0", "192.0.2.1", true},
        {"0.0.0.0/0", "2001:db8::1", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.cidr);
        CAPTURE(c.addr);
        auto cidr = Cidr::parse(c.cidr);
        auto addr = IpAddress::parse(c.addr);
        REQUIRE(cidr);
        REQUIRE(addr);
        CHECK(cidr->contains(*addr) == c.want);
    }
    CHECK_FALSE(Cidr::parse("10.0.0.0/33"));
    CHECK_FALSE(Cidr::parse("10.0.0.0/"));
    CHECK_FALSE(Cidr::parse("example.com"));
    CHECK_FALSE(Cidr::parse("::1/129"));
}

TEST_CASE("envelope addresses split into local part and domain") {
    auto a = parse_address("<4155550123@SMS.Example.COM.>");
    REQUIRE(a);
    CHECK(a->local == "4155550123");
    CHECK(a->domain == "sms.example.com");
    auto routed = parse_address("<@relay.example:+14155550123@sms.example.com>");
    REQUIRE(routed);
    CHECK(routed->local == "+14155550123");
    CHECK_FALSE(parse_address("<>"));
    CHECK_FALSE(parse_address("<nobody>"));
    CHECK_FALSE(parse_address("<user@>"));
    CHECK(bare_address("<Alerts@Example.COM>") == "alerts@example.com");
}

// What Debian's libphonenumber 8.12 calls these numbers: the table allowed_number_types works
// on. US numbers are fixed_line_or_mobile, never mobile.
TEST_CASE("number types") {
    struct Case {
        const char* number;
        const char* want;
    };
    const Case cases[] = {
        {"+14155550123", "fixed_line_or_mobile"},
        {"+16135550123", "fixed_line_or_mobile"},
        {"+19005550199", "premium_rate"},
        {"+19002345678", "premium_rate"},
        {"+18005550123", "toll_free"},
        {"+18772345678", "toll_free"},
        {"+15002345678", "personal_number"},
        {"+447400123456", "mobile"},
        {"+441212345678", "fixed_line"},
        {"+449012345678", "premium_rate"},
        {"+448001234567", "toll_free"},
        {"+445612345678", "voip"},
        {"+447012345678", "personal_number"},
        {"+447640123456", "pager"},
        {"+445512345678", "uan"},
        {"+4918012345", "shared_cost"},
        {"+49177991234567", "voicemail"},
        {"+33612345678", "mobile"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.number);
        auto n = parse_phone(c.number, "US");
        REQUIRE(n);
        CHECK(number_type_name(n->type) == c.want);
        CHECK(number_type_from_name(c.want) == n->type);
    }
    CHECK_FALSE(number_type_from_name("premium"));
    CHECK(number_type_name(NumberType::Unknown) == "unknown");
}
