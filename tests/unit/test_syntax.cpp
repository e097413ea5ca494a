// The hand-written value validators (no std::regex), and values of 60,000 characters in
// every config key, the aliases and the sender_rules files: FILE:LINE errors, never a crash
// (a backtracking regex overflowed the stack on them).
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "shared/base/syntax.h"
#include "shared/config_load/load_config.h"
#include "shared/policy/aliases.h"
#include "shared/policy/sender_rules.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

const std::size_t kLong = 60000;

// Every key of the config table, from `sms-milter help config`'s text.
std::vector<std::string> config_keys() {
    std::vector<std::string> keys;
    std::istringstream in(describe_config_keys());
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != ' ') keys.push_back(line.substr(0, line.find(' ')));
    return keys;
}

// The minimal config with `line` last, in place of the minimal config's own line for that key.
std::string config_with(const test::TempDir& d, const std::string& line) {
    std::string key = line.substr(0, line.find(' ')), out;
    std::istringstream in(test::minimal_config(d));
    for (std::string l; std::getline(in, l);)
        if (l.rfind(key + " =", 0) != 0) out += l + "\n";
    return out + line + "\n";
}

}  // namespace

TEST_CASE("is_dns_name") {
    std::string label63(63, 'a'), label64(64, 'a');
    std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    struct Case {
        std::string in;
        bool want;
    };
    const Case cases[] = {
        {"sms.example.com", true},
        {"SMS.Example.COM", true},
        {"localhost", true},
        {"a-b.c0", true},
        {"1.2.3.4", true},
        {label63 + ".x", true},
        {name253, true},
        {name253 + "b", false},
        {label64 + ".x", false},
        {"", false},
        {".", false},
        {"a..b", false},
        {"a.", false},
        {".a", false},
        {"-a.b", false},
        {"a-.b", false},
        {"a_b.c", false},
        {"a b", false},
        {"a@b", false},
        {"caf\xc3\xa9.fr", false},
        {std::string(kLong, 'a'), false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in.substr(0, 80));
        CHECK(is_dns_name(c.in) == c.want);
    }
}

TEST_CASE("SIDs, E.164, Twilio senders and milter sockets") {
    CHECK(is_prefixed_hex("AC0123456789abcdef0123456789ABCDEF", "AC", 32));
    CHECK_FALSE(is_prefixed_hex("AC0123456789abcdef0123456789abcde", "AC", 32));
    CHECK_FALSE(is_prefixed_hex("AC0123456789abcdef0123456789abcdeg", "AC", 32));
    CHECK_FALSE(is_prefixed_hex("SK0123456789abcdef0123456789abcdef", "AC", 32));

    CHECK(is_e164("+14155550123"));
    CHECK(is_e164("+12"));
    CHECK(is_e164("+123456789012345"));
    CHECK_FALSE(is_e164("+1234567890123456"));
    CHECK_FALSE(is_e164("+1"));
    CHECK_FALSE(is_e164("+04155550123"));
    CHECK_FALSE(is_e164("14155550123"));
    CHECK_FALSE(is_e164("+1415555012a"));

    struct Case {
        std::string in;
        bool want;
    };
    const Case senders[] = {
        {"+15005550006", true},
        {"+1234567", true},
        {"+123456", false},
        {"898211", true},
        {"123", true},
        {"12", false},
        {"123456789", false},
        {"Alerts", true},
        {"Ops 24x7", true},
        {"24 7", false},
        {"Ops-24", false},
        {"", false},
        {"Alerts\t", false},
        {std::string(17, 'A'), false},
        {std::string(kLong, 'A'), false},
    };
    for (const auto& c : senders) {
        CAPTURE(c.in.substr(0, 80));
        CHECK(is_twilio_sender(c.in) == c.want);
    }
    const Case sockets[] = {
        {"unix:/run/sms-milter/sms-milter.sock", true},
        {"local:/x", true},
        {"inet:8890@127.0.0.1", true},
        {"inet6:8890@[::1]", true},
        {"inet:8890", true},
        {"unix:", false},
        {"unix:/", false},
        {"unix:relative", false},
        {"inet:@127.0.0.1", false},
        {"inet:123456@h", false},
        {"inet:88a0@h", false},
        {"inet:8890@", false},
        {"8890", false},
        {"tcp:8890", false},
        {"unix:/" + std::string(kLong, 'a'), true},  // long, but no crash
        {"inet:" + std::string(kLong, '1'), false},
    };
    for (const auto& c : sockets) {
        CAPTURE(c.in.substr(0, 80));
        CHECK(is_milter_socket_spec(c.in) == c.want);
    }
}

TEST_CASE("twilio_api_url: https://HOST[:PORT][/PATH] only") {
    struct Case {
        std::string in;
        const char* want;  // "" = accepted, else the problem
    };
    const Case cases[] = {
        {"https://api.twilio.com", ""},
        {"https://api.twilio.com/", ""},
        {"https://api.dublin.ie1.twilio.com", ""},
        {"https://127.0.0.1:8443", ""},
        {"https://[::1]:8443/", ""},
        {"https://[2001:db8::1]", ""},
        {"https://proxy.example:443/twilio/v1", ""},
        {"https://localhost:65535", ""},
        {"https://api.twilio.com@evil.example", "user name or password (\"user@\")"},
        {"https://user:pass@api.twilio.com", "user name or password (\"user@\")"},
        {"https://api.twilio.com%40evil.example", "bad host name"},
        {"https://api.twilio.com\\@evil.example", "backslash"},
        {"https://api.twilio.com\\evil.example", "backslash"},
        {"https://evil.example#@api.twilio.com", "query or fragment"},
        {"https://evil.example?@api.twilio.com", "query or fragment"},
        {"https://api.twilio.com /x", "white space, control or non-ASCII character"},
        {"https://api.twilio.com\t", "white space, control or non-ASCII character"},
        {"https://api.twilio.com\r\nX: y", "white space, control or non-ASCII character"},
        {"https://caf\xc3\xa9.example", "white space, control or non-ASCII character"},
        {"http://api.twilio.com", "not https://"},
        {"HTTPS://api.twilio.com", "not https://"},
        {"api.twilio.com", "not https://"},
        {"https://", "no host"},
        {"https:///x", "no host"},
        {"https://:8443", "no host"},
        {"https://api..twilio.com", "bad host name"},
        {"https://-api.twilio.com", "bad host name"},
        {"https://api_x.twilio.com", "bad host name"},
        {"https://1.2.3", "bad host name"},
        {"https://256.1.1.1", "bad host name"},
        {"https://[::1", "unclosed [ in the host"},
        {"https://[::g]", "bad IPv6 address"},
        {"https://[::1]x", "bad host"},
        {"https://[::1]:", "empty port"},
        {"https://api.twilio.com:", "empty port"},
        {"https://api.twilio.com:0", "port out of range 1-65535"},
        {"https://api.twilio.com:65536", "port out of range 1-65535"},
        {"https://api.twilio.com:123456", "bad port"},
        {"https://api.twilio.com:-1", "bad port"},
        {"https://api.twilio.com:80:80", "bad port"},
        {"https://api.twilio.com//", "bad path (letters, digits and -._~ between single slashes)"},
        {"https://api.twilio.com/a//b",
         "bad path (letters, digits and -._~ between single slashes)"},
        {"https://api.twilio.com/../x",
         "bad path (letters, digits and -._~ between single slashes)"},
        {"https://api.twilio.com/a%2fb",
         "bad path (letters, digits and -._~ between single slashes)"},
        {"https://api.twilio.com/a@b",
         "bad path (letters, digits and -._~ between single slashes)"},
        {"https://" + std::string(kLong, 'a'), "longer than 2048 characters"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in.substr(0, 80));
        CHECK(https_url_problem(c.in) == c.want);
    }
    test::TempDir d;
    std::string path =
        d.write("c.conf", config_with(d, "twilio_api_url = https://api.twilio.com@evil.example"));
    auto load = load_config(path);
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0] == path +
                                ":5: twilio_api_url: expected https://HOST[:PORT][/PATH]: user "
                                "name or password (\"user@\")");
    path = d.write("c.conf", config_with(d, "twilio_api_url = https://127.0.0.1:8443/edge/"));
    load = load_config(path);
    REQUIRE(load.errors.empty());
    CHECK(load.config->twilio_api_url == "https://127.0.0.1:8443/edge");
}

TEST_CASE("a 60,000-character value in any config key: loaded or a FILE:LINE error") {
    test::TempDir d;
    auto keys = config_keys();
    REQUIRE(keys.size() > 30);
    const std::string fillers[] = {std::string(kLong, 'a'),
                                   std::string(kLong, '1'),
                                   "+" + std::string(kLong - 1, '1'),
                                   "https://" + std::string(kLong, 'a'),
                                   "AC" + std::string(kLong, 'f'),
                                   std::string(kLong / 2, 'a') + std::string(kLong / 2, ' ')};
    for (const auto& key : keys) {
        for (const auto& value : fillers) {
            CAPTURE(key);
            CAPTURE(value.substr(0, 12));
            std::string path = d.write("c.conf", config_with(d, key + " = " + value));
            auto load = load_config(path);
            for (const auto& e : load.errors) CHECK(e.rfind(path + ":", 0) == 0);
        }
    }
}

TEST_CASE("long values: the keys whose syntax they break say so at their line") {
    test::TempDir d;
    struct Case {
        std::string line;
        std::string want;
    };
    const Case cases[] = {
        {"gateway_domains = " + std::string(kLong, 'a'), "gateway_domains: expected domain names"},
        {"milter_socket = inet:" + std::string(kLong, '1'), "milter_socket: expected inet:PORT"},
        {"twilio_from = " + std::string(kLong, 'A'), "twilio_from: too long"},
        {"twilio_messaging_service_sid = MG" + std::string(kLong, 'f'),
         "twilio_messaging_service_sid: expected MG followed by 32 hex digits"},
        {"twilio_api_key_sid = SK" + std::string(kLong, 'f'),
         "twilio_api_key_sid: expected SK followed by 32 hex digits"},
        {"twilio_api_url = https://" + std::string(kLong, '/'),
         "twilio_api_url: expected https://HOST[:PORT]"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.want);
        std::string conf = config_with(d, c.line);
        std::string path = d.write("c.conf", conf);
        auto load = load_config(path);
        REQUIRE(load.errors.size() == 1);
        auto line = std::count(conf.begin(), conf.end(), '\n');
        CHECK(load.errors[0].rfind(path + ":" + std::to_string(line) + ": ", 0) == 0);
        CHECK(load.errors[0].find(c.want) != std::string::npos);
    }
}

TEST_CASE("a value continued past 64 KiB is one error at its first line") {
    test::TempDir d;
    std::string cont;
    for (int i = 0; i < 3; ++i) cont += "    " + std::string(kLong, 'a') + "\n";
    std::string path = d.write("c.conf", test::minimal_config(d) + "body_cut_marker = x\n" + cont);
    auto load = load_config(path);
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0] == path + ":5: body_cut_marker: value longer than 65536 bytes");
}

TEST_CASE("aliases and sender_rules: 60,000-character names and patterns are errors") {
    test::TempDir d;
    std::vector<std::string> errors;
    std::string aliases =
        d.write("aliases", std::string(kLong, 'a') + ": +14155550101\n" + "oncall: +14155550102\n");
    AliasTable table = load_aliases(aliases, "US", nullptr, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind(aliases + ":1: expected \"name: +E164", 0) == 0);

    const std::string patterns[] = {
        std::string(kLong, 'a'),
        "x@" + std::string(kLong, 'a'),
        "@" + std::string(kLong, 'a') + ".example",
        std::string(kLong, '<'),
    };
    for (const auto& p : patterns) {
        CAPTURE(p.substr(0, 12));
        errors.clear();
        std::string rules = d.write("rules", p + "  +1415*\n");
        load_sender_rules(rules, &table, errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].rfind(rules + ":1: \"", 0) == 0);
        CHECK(errors[0].find("is not a sender pattern") != std::string::npos);
    }
    errors.clear();
    std::string rules = d.write("rules", "x@example.com  +" + std::string(kLong, '1') + "*, " +
                                             "+1" + std::string(kLong, '2') + "\n");
    load_sender_rules(rules, &table, errors);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].find("is not +E164, +PREFIX*, * or an alias name") != std::string::npos);
}
