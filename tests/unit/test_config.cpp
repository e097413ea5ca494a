// Config parsing and validation: the table, Postfix syntax, FILE:LINE errors, secret files.
#include <doctest/doctest.h>

#include "shared/config/config.h"
#include "shared/config/milter_socket.h"
#include "shared/config_load/load_config.h"
#include "tests/unit/fixtures.h"

using smsm::load_config;
using smsm::test::TempDir;

namespace {

std::string minimal(const TempDir& d) {
    return smsm::test::minimal_config(d);
}

}  // namespace

TEST_CASE("a minimal config loads with the documented defaults") {
    TempDir d;
    auto load = load_config(d.write("c.conf", minimal(d)));
    REQUIRE(load.errors.empty());
    const auto& c = *load.config;
    CHECK(c.milter_socket == "unix:/run/sms-milter/sms-milter.sock");
    CHECK(c.default_region == "US");
    CHECK(c.allowed_countries == std::vector<std::string>{"US"});
    CHECK(c.allowed_number_types ==
          std::vector<smsm::NumberType>{smsm::NumberType::FixedLine, smsm::NumberType::Mobile,
                                        smsm::NumberType::FixedLineOrMobile});
    CHECK(c.allowed_clients.size() == 2);
    CHECK(c.allowed_senders.empty());
    CHECK_FALSE(c.require_sasl_auth);
    CHECK(c.twilio_api_url == "https://api.twilio.com");
    CHECK(c.state_directory == "/var/lib/sms-milter");
    CHECK(c.log_to == smsm::LogTo::Syslog);
    CHECK(c.twilio_user == "AC0123456789abcdef0123456789abcdef");
    CHECK(c.twilio_secret == "tok-123");
}

TEST_CASE("Postfix syntax: comments, continuation lines, lists with commas and spaces") {
    TempDir d;
    auto load = load_config(
        d.write("c.conf", minimal(d) + "# a comment\n"
                                       "allowed_countries = us,\n"
                                       "    CA   gb\n"
                                       "allowed_senders = @Example.COM  ops@example.net\n"
                                       "twilio_api_url = https://127.0.0.1:8443/\n"));
    REQUIRE(load.errors.empty());
    CHECK(load.config->allowed_countries == std::vector<std::string>{"US", "CA", "GB"});
    CHECK(load.config->allowed_senders ==
          std::vector<std::string>{"@example.com", "ops@example.net"});
    CHECK(load.config->twilio_api_url == "https://127.0.0.1:8443");
}

TEST_CASE("bad lines are reported as FILE:LINE: text") {
    TempDir d;
    struct Case {
        std::string line;
        std::string want;
    };
    const Case cases[] = {
        {"no_such_key = 1", "unknown key \"no_such_key\""},
        {"require_sasl_auth = maybe", "require_sasl_auth: expected yes or no"},
        {"allowed_clients = 10.0.0.0/33",
         "allowed_clients: \"10.0.0.0/33\" is not an address or CIDR"},
        {"default_region = XX", "default_region: unknown region code \"XX\""},
        {"twilio_api_url = http://api.twilio.com", "twilio_api_url: expected https://HOST[:PORT]"},
        {"milter_socket = 8890", "milter_socket: expected inet:PORT@HOST"},
        {"maximal_backoff_time = 5x", "maximal_backoff_time: expected a time"},
        {"state_directory = relative/path", "state_directory: expected an absolute path"},
        {"just words", "expected \"key = value\""},
        {"gateway_domains = other.example", "gateway_domains is already set at line 1"},
        {"carrier_domains = sometimes", "carrier_domains: expected yes or no"},
        {"allowed_number_types = mobile, premium",
         "allowed_number_types: unknown number type \"premium\""},
        {"allowed_number_types = unknown", "allowed_number_types: unknown number type"},
        {"allowed_number_types =", "allowed_number_types: expected at least one number type"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        std::string path =
            d.write("c.conf", minimal(d) + "# the next line is line 6\n" + c.line + "\n");
        auto load = load_config(path);
        REQUIRE(load.errors.size() == 1);
        CHECK(load.errors[0].rfind(path + ":6: ", 0) == 0);
        CHECK(load.errors[0].find(c.want) != std::string::npos);
        CHECK_FALSE(load.config);
    }
}

TEST_CASE("a continuation line needs a setting before it") {
    TempDir d;
    std::string path = d.write("c.conf", "  orphan\n" + minimal(d));
    auto load = load_config(path);
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0] == path + ":1: continuation line without a setting");
}

TEST_CASE("cross-key rules") {
    TempDir d;
    d.write("token", "tok\n");
    std::string base =
        "gateway_domains = sms.example.com\n"
        "twilio_account_sid = AC0123456789abcdef0123456789abcdef\n";
    std::string token = "twilio_auth_token_file = " + d.path() + "/token\n";
    SUBCASE("no credentials") {
        auto load = load_config(d.write("c.conf", base + "twilio_from = +15005550006\n"));
        REQUIRE(load.errors.size() == 1);
        CHECK(load.errors[0].find("either twilio_auth_token_file or twilio_api_key_sid") !=
              std::string::npos);
    }
    SUBCASE("both From and a messaging service") {
        auto load = load_config(d.write(
            "c.conf", base + token + "twilio_from = +15005550006\n" +
                          "twilio_messaging_service_sid = MG0123456789abcdef0123456789abcdef\n"));
        REQUIRE(load.errors.size() == 1);
        CHECK(load.errors[0].find("exactly one of twilio_from and twilio_messaging_service_sid") !=
              std::string::npos);
    }
    SUBCASE("gateway_domains is required") {
        auto load = load_config(
            d.write("c.conf", "twilio_account_sid = AC0123456789abcdef0123456789abcdef\n" + token +
                                  "twilio_from = +15005550006\n"));
        REQUIRE(!load.errors.empty());
        CHECK(load.errors[0].find("gateway_domains is required") != std::string::npos);
    }
    SUBCASE("API key and secret") {
        d.write("secret", "s3cret\n");
        auto load = load_config(
            d.write("c.conf", base + "twilio_api_key_sid = SK0123456789abcdef0123456789abcdef\n" +
                                  "twilio_api_key_secret_file = " + d.path() + "/secret\n" +
                                  "twilio_from = +15005550006\n"));
        REQUIRE(load.errors.empty());
        CHECK(load.config->twilio_user == "SK0123456789abcdef0123456789abcdef");
        CHECK(load.config->twilio_secret == "s3cret");
    }
}

TEST_CASE("secret files readable by group or others are refused, and never echoed") {
    TempDir d;
    std::string conf = minimal(d);
    d.write("token", "tok-should-not-appear\n", 0640);
    auto load = load_config(d.write("c.conf", conf));
    REQUIRE(load.errors.size() == 1);
    CHECK(load.errors[0].find(":3: ") != std::string::npos);
    CHECK(load.errors[0].find("accessible by group or others (mode 0640)") != std::string::npos);
    CHECK(load.errors[0].find("tok-should-not-appear") == std::string::npos);
}

TEST_CASE("a missing config file is an error naming it") {
    auto load = load_config("/nonexistent/sms-milter.conf");
    REQUIRE(load.errors.size() >= 1);
    CHECK(load.errors[0].rfind("/nonexistent/sms-milter.conf: cannot open", 0) == 0);
}

TEST_CASE("milter_socket: unix files, and a warning for every inet socket") {
    struct Case {
        const char* socket;
        const char* file;
        bool warns;
    };
    const Case cases[] = {
        {"unix:/run/sms-milter/sms-milter.sock", "/run/sms-milter/sms-milter.sock", false},
        {"local:/var/spool/postfix/sms-milter/s.sock", "/var/spool/postfix/sms-milter/s.sock",
         false},
        {"inet:8890@127.0.0.1", "", true},
        {"inet6:8890@[::1]", "", true},
        {"inet:8890", "", true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.socket);
        CHECK(smsm::unix_socket_path(c.socket) == c.file);
        CHECK(smsm::inet_socket_warning(c.socket).empty() == !c.warns);
    }
    CHECK(smsm::inet_socket_warning("inet:8890@127.0.0.1").find("any local user") !=
          std::string::npos);
}

TEST_CASE("gateway_domains: DOMAIN:REGION, and carrier domains") {
    TempDir d;
    auto load = load_config(
        d.write("c.conf", smsm::test::minimal_config(d, "SMS.example.com, txt.example.ca:ca") +
                              "carrier_domains = yes\n"));
    REQUIRE(load.errors.empty());
    REQUIRE(load.config->gateway_domains.size() == 2);
    CHECK(load.config->gateway_domains[0].name == "sms.example.com");
    CHECK(load.config->gateway_domains[0].region == "");
    CHECK(load.config->gateway_domains[1].name == "txt.example.ca");
    CHECK(load.config->gateway_domains[1].region == "CA");
    CHECK(load.config->carrier_domains);

    for (const char* bad : {"txt.example.ca:XX", "txt.example.ca:", ":CA"}) {
        CAPTURE(bad);
        auto l = load_config(d.write("c.conf", smsm::test::minimal_config(d, bad)));
        REQUIRE(l.errors.size() == 1);
        CHECK(l.errors[0].find(":1: gateway_domains: ") != std::string::npos);
    }
    auto notice = load_config(d.write("c.conf", smsm::test::minimal_config(d) +
                                                    "carrier_domains = yes\n"
                                                    "failure_notice = 4155550123@vtext.com\n"));
    REQUIRE(notice.errors.size() == 1);
    CHECK(notice.errors[0].find("failure_notice must not be in a carrier domain") !=
          std::string::npos);
    CHECK_FALSE(load_config(d.write("c.conf", smsm::test::minimal_config(d) +
                                                  "failure_notice = 4155550123@vtext.com\n"))
                    .errors.size());
}
