// The aliases file: nested aliases, distinct numbers, and every error with FILE:LINE.
#include <doctest/doctest.h>

#include "shared/config_load/load_config.h"
#include "shared/policy/aliases.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

std::vector<std::string> e164(const std::vector<PhoneNumber>* numbers) {
    std::vector<std::string> out;
    if (numbers)
        for (const auto& n : *numbers) out.push_back(n.e164);
    return out;
}

}  // namespace

TEST_CASE("aliases: nested, continued, distinct numbers in file order") {
    test::TempDir d;
    std::string path = d.write("aliases",
                               "# comment\n"
                               "\n"
                               "OnCall: dba, network,\n"
                               "    # a comment inside does not end the alias\n"
                               "    +16135550104 415.555.0101\n"
                               "dba: +14155550101, 4155550102\n"
                               "network: +14155550103, DBA\n");
    std::vector<std::string> errors;
    AliasTable t = load_aliases(path, "US", nullptr, errors);
    CHECK(errors.empty());
    CHECK(e164(t.find("oncall")) ==
          std::vector<std::string>{"+14155550101", "+14155550102", "+14155550103", "+16135550104"});
    CHECK(e164(t.find("ONCALL")) == e164(t.find("oncall")));
    CHECK(e164(t.find("network")) ==
          std::vector<std::string>{"+14155550103", "+14155550101", "+14155550102"});
    CHECK(t.find("nobody") == nullptr);
    CHECK(t.find("oncall")->at(3).region == "CA");
}

TEST_CASE("aliases: errors are FILE:LINE: text") {
    test::TempDir d;
    struct Case {
        const char* file;
        const char* want;  // the one error, after "PATH:"
    };
    const Case cases[] = {
        {"a: b\nb: c\nc: a\n", "3: alias loop: a -> b -> c -> a"},
        {"self: +14155550101, self\n", "1: alias loop: self -> self"},
        {"a: +14155550101, 12\n", "1: a: \"12\" is not a valid phone number"},
        {"a: +14155550101, nosuch\n", "1: a: \"nosuch\" is neither a phone number nor an alias"},
        {"a: +14155550101\nA: +14155550102\n", "2: alias a is already defined at line 1"},
        {"4155550101: +14155550101\n", "1: expected \"name: +E164, +E164, other-alias\""},
        {"no colon here\n", "1: expected \"name: +E164"},
        {"a b: +14155550101\n", "1: expected \"name: +E164"},
        {"  +14155550101\n", "1: continuation line without an alias"},
        {"empty:\n", "1: alias empty has no members"},
        {"fr: +33612345678\n", "1: fr: +33612345678: region FR is not allowed"},
    };
    NumberCheck us_ca = [](const PhoneNumber& n) -> std::string {
        return n.region == "US" || n.region == "CA" ? "" : "region " + n.region + " is not allowed";
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        std::string path = d.write("aliases", c.file);
        std::vector<std::string> errors;
        load_aliases(path, "US", us_ca, errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].rfind(path + ":" + c.want, 0) == 0);
    }
    std::vector<std::string> errors;
    load_aliases(d.path() + "/missing", "US", nullptr, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("missing: cannot open") != std::string::npos);
}

TEST_CASE("aliases: bounded fan-out") {
    test::TempDir d;
    std::string text = "big:";
    for (int i = 0; i <= static_cast<int>(kMaxAliasNumbers); ++i)
        text += " +1415555" + std::to_string(1000 + i) + (i % 10 == 9 ? "\n " : "");
    text += "\n";
    std::string path = d.write("aliases", text);
    std::vector<std::string> errors;
    AliasTable t = load_aliases(path, "US", nullptr, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == path + ":1: big: more than 1000 numbers");
    CHECK(t.find("big")->size() == kMaxAliasNumbers);
}

TEST_CASE("aliases in the config: checked against the number policy, errors block the load") {
    test::TempDir d;
    d.write("aliases", "oncall: +14155550101, +19005550199\n");
    auto load = load_config(
        d.write("c.conf", test::minimal_config(d) + "aliases = " + d.path() + "/aliases\n"));
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0] == d.path() +
                                "/aliases:1: oncall: +19005550199: number type premium_rate is "
                                "not in allowed_number_types");
    CHECK_FALSE(load.config);
    d.write("aliases", "oncall: +14155550101, +16135550104\n");
    load = load_config(d.write("c.conf", test::minimal_config(d) + "aliases = " + d.path() +
                                             "/aliases\nallowed_countries = US\n"));
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0].find("region CA is not in allowed_countries") != std::string::npos);
    load = load_config(d.write("c.conf", test::minimal_config(d) + "aliases = " + d.path() +
                                             "/aliases\nallowed_countries = US CA\n"));
    REQUIRE(load.errors.empty());
    REQUIRE(load.config->aliases);
    CHECK(e164(load.config->aliases->find("oncall")).size() == 2);
}
