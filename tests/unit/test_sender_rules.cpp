// sender_rules: the first matching sender line decides which numbers and aliases it may text.
#include <doctest/doctest.h>

#include "shared/config_load/load_config.h"
#include "shared/policy/aliases.h"
#include "shared/policy/policy.h"
#include "shared/policy/sender_rules.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

TEST_CASE("sender rules decide at RCPT") {
    static test::TempDir d;
    d.write("aliases", "oncall: +14155550101, +16135550104\ndba: +14155550102\n");
    d.write("rules",
            "# nagios may text the 415 area and the on-call team\n"
            "Nagios@Mon.Example.com   +1415*, OnCall\n"
            "bob@mon.example.com\n"
            "@mon.example.com         +14155550101,\n"
            "                         dba\n"
            "<>                       +16135550104\n"
            "*                        +1613*\n");
    auto cfg = test::load_test_config(d, "allowed_countries = US CA\naliases = " + d.path() +
                                             "/aliases\nsender_rules = " + d.path() + "/rules\n");
    struct Case {
        const char* sender;
        const char* rcpt;
        int line;  // the deciding rule
        bool allowed;
    };
    const Case cases[] = {
        {"<nagios@mon.example.com>", "<4155550199@sms.example.com>", 2, true},
        {"<NAGIOS@MON.EXAMPLE.COM>", "<oncall@sms.example.com>", 2, true},
        {"<nagios@mon.example.com>", "<dba@sms.example.com>", 2, false},  // not named
        {"<nagios@mon.example.com>", "<6135550104@sms.example.com>", 2, false},
        {"<bob@mon.example.com>", "<4155550101@sms.example.com>", 3, false},  // texts nobody
        {"<ops@mon.example.com>", "<4155550101@sms.example.com>", 4, true},
        {"<ops@mon.example.com>", "<dba@sms.example.com>", 4, true},  // continuation line
        {"<ops@mon.example.com>", "<4155550102@sms.example.com>", 4, false},
        {"<ops@sub.mon.example.com>", "<6135550123@sms.example.com>", 7, true},
        {"<>", "<+16135550104@sms.example.com>", 6, true},
        {"<>", "<6135550123@sms.example.com>", 6, false},
        {"<x@example.org>", "<6135550123@sms.example.com>", 7, true},
        {"<x@example.org>", "<oncall@sms.example.com>", 7, false},  // * is numbers only
    };
    for (const auto& c : cases) {
        std::string what = std::string(c.sender) + " -> " + c.rcpt;
        CAPTURE(what);
        RcptDecision dec =
            decide_rcpt(*cfg, Envelope{IpAddress::parse("127.0.0.1"), c.sender, ""}, c.rcpt);
        CHECK(dec.rule_line == c.line);
        CHECK(dec.reply.str() ==
              (c.allowed ? "  " : "550 5.7.1 Destination not permitted for this sender"));
        CHECK(dec.numbers.empty() == !c.allowed);
    }
    // Without a catch-all line, a sender that matches no line may text nobody.
    d.write("rules2", "nagios@mon.example.com  *\n");
    auto strict = test::load_test_config(d, "sender_rules = " + d.path() + "/rules2\n");
    RcptDecision dec =
        decide_rcpt(*strict, Envelope{IpAddress::parse("127.0.0.1"), "<x@example.org>", ""},
                    "<4155550123@sms.example.com>");
    CHECK(dec.rule_line == 0);
    CHECK(dec.reply.str() == "550 5.7.1 Destination not permitted for this sender");
    // Access checks and number checks come first.
    CHECK(decide_rcpt(*strict, Envelope{IpAddress::parse("127.0.0.1"), "<x@example.org>", ""},
                      "<12@sms.example.com>")
              .reply.str() == "550 5.1.1 Recipient is not a valid phone number");
}

TEST_CASE("sender rules: errors are FILE:LINE: text") {
    test::TempDir d;
    d.write("aliases", "oncall: +14155550101\n");
    std::vector<std::string> ignored;
    AliasTable aliases = load_aliases(d.path() + "/aliases", "US", nullptr, ignored);
    struct Case {
        const char* file;
        const char* want;
    };
    const Case cases[] = {
        {"x@y  +1415*, nosuch\n", "1: \"nosuch\" is not an alias of the aliases file"},
        {"x@y  4155550123\n", "1: \"4155550123\" is not +E164, +PREFIX*, * or an alias name"},
        {"x@y  +1415*5\n", "1: \"+1415*5\" is not +E164"},
        {"x@y  +04155550123\n", "1: \"+04155550123\" is not +E164"},
        {"not-an-address  *\n", "1: \"not-an-address\" is not a sender pattern"},
        {"@  *\n", "1: \"@\" is not a sender pattern"},
        {"  +1415*\n", "1: continuation line without a rule"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        std::string path = d.write("rules", c.file);
        std::vector<std::string> errors;
        load_sender_rules(path, &aliases, errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].rfind(path + ":" + c.want, 0) == 0);
    }
    std::vector<std::string> errors;
    std::string path = d.write("rules", "x@y  oncall\n");
    load_sender_rules(path, nullptr, errors);  // no aliases file at all
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == path + ":1: \"oncall\" is not an alias of the aliases file");
    auto load = load_config(
        d.write("c.conf", test::minimal_config(d) + "sender_rules = " + d.path() + "/rules\n"));
    REQUIRE(load.errors.size() == 1);
    CHECK_FALSE(load.config);
}
