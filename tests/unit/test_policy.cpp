// RCPT decisions (SPEC §5) as a table of got/want cases.
#include <doctest/doctest.h>

#include <set>

#include "shared/base/strings.h"
#include "shared/policy/address.h"
#include "shared/policy/policy.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

std::shared_ptr<const Config> policy_config(const std::string& extra) {
    static test::TempDir d;
    return test::load_test_config(
        d, "allowed_countries = US CA\nallowed_clients = 127.0.0.1, 10.0.0.0/8, ::1\n" + extra,
        "sms.example.com, txt.example.net");
}

}  // namespace

TEST_CASE("RCPT decisions") {
    auto open = policy_config("");
    auto senders = policy_config("allowed_senders = @example.com alerts@example.net\n");
    auto sasl = policy_config("require_sasl_auth = yes\n");
    struct Case {
        const char* name;
        const Config* cfg;
        const char* client;  // "" = local submission
        const char* sender;
        const char* auth;
        const char* rcpt;
        bool gateway;
        const char* reply;  // "" = continue
        const char* number;
    };
    const Case cases[] = {
        {"E.164", open.get(), "127.0.0.1", "<a@b.example>", "", "<+14155550123@sms.example.com>",
         true, "", "+14155550123"},
        {"national, case-insensitive domain", open.get(), "10.1.1.1", "<a@b>", "",
         "<415.555.0123@SMS.Example.Com>", true, "", "+14155550123"},
        {"second gateway domain", open.get(), "::1", "<a@b>", "", "<4155550123@txt.example.net>",
         true, "", "+14155550123"},
        {"ordinary recipient untouched", open.get(), "192.0.2.1", "<a@b>", "", "<ops@example.org>",
         false, "", ""},
        {"subdomain is not a gateway", open.get(), "127.0.0.1", "<a@b>", "",
         "<4155550123@x.sms.example.com>", false, "", ""},
        {"client not allowed", open.get(), "192.0.2.1", "<a@b>", "", "<4155550123@sms.example.com>",
         true, "550 5.7.1 SMS not permitted from this client", ""},
        {"local submission counts as loopback", open.get(), "", "<a@b>", "",
         "<4155550123@sms.example.com>", true, "", "+14155550123"},
        {"invalid number", open.get(), "127.0.0.1", "<a@b>", "", "<12@sms.example.com>", true,
         "550 5.1.1 Recipient is not a valid phone number", ""},
        {"country not allowed", open.get(), "127.0.0.1", "<a@b>", "",
         "<+33612345678@sms.example.com>", true, "550 5.7.1 Destination country not permitted", ""},
        {"Canada allowed", open.get(), "127.0.0.1", "<a@b>", "", "<+16135550123@sms.example.com>",
         true, "", "+16135550123"},
        {"sender domain allowed", senders.get(), "127.0.0.1", "<Ops@Example.com>", "",
         "<4155550123@sms.example.com>", true, "", "+14155550123"},
        {"sender address allowed", senders.get(), "127.0.0.1", "<alerts@example.net>", "",
         "<4155550123@sms.example.com>", true, "", "+14155550123"},
        {"sender not allowed", senders.get(), "127.0.0.1", "<evil@example.org>", "",
         "<4155550123@sms.example.com>", true, "550 5.7.1 Sender not permitted to send SMS", ""},
        {"other user at listed address's domain", senders.get(), "127.0.0.1", "<bob@example.net>",
         "", "<4155550123@sms.example.com>", true, "550 5.7.1 Sender not permitted to send SMS",
         ""},
        {"null sender not allowed", senders.get(), "127.0.0.1", "<>", "",
         "<4155550123@sms.example.com>", true, "550 5.7.1 Sender not permitted to send SMS", ""},
        {"SASL missing", sasl.get(), "127.0.0.1", "<a@b>", "", "<4155550123@sms.example.com>", true,
         "550 5.7.1 SMS requires SMTP authentication", ""},
        {"SASL present", sasl.get(), "127.0.0.1", "<a@b>", "alice", "<4155550123@sms.example.com>",
         true, "", "+14155550123"},
        {"client check before number check", open.get(), "192.0.2.1", "<a@b>", "",
         "<12@sms.example.com>", true, "550 5.7.1 SMS not permitted from this client", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        Envelope env{*c.client ? IpAddress::parse(c.client) : std::nullopt, c.sender, c.auth};
        RcptDecision d = decide_rcpt(*c.cfg, env, c.rcpt);
        CHECK(d.gateway == c.gateway);
        if (*c.reply) {
            CHECK(d.reply.str() == c.reply);
            CHECK_FALSE(d.number);
        } else {
            CHECK(d.reply.action == Reply::Action::Continue);
            CHECK(d.number.has_value() == (*c.number != '\0'));
            if (d.number) CHECK(d.number->e164 == c.number);
        }
    }
}

TEST_CASE("carrier domains and gateway domain regions") {
    auto off = policy_config("");
    auto on = policy_config("carrier_domains = yes\n");
    static test::TempDir d;
    auto regions =
        test::load_test_config(d, "allowed_countries = US CA GB\ncarrier_domains = yes\n",
                               "sms.example.com, txt.example.ca:ca, tmomail.net:GB");
    struct Case {
        const char* name;
        const Config* cfg;
        const char* rcpt;
        bool gateway;
        const char* reply;   // "" = continue
        const char* number;  // "" = none
        const char* carrier;
    };
    const Case cases[] = {
        {"off: a carrier domain is an ordinary recipient", off.get(), "<4155550123@vtext.com>",
         false, "", "", ""},
        {"Verizon SMS", on.get(), "<4155550123@vtext.com>", true, "", "+14155550123", "Verizon"},
        {"AT&T, any case", on.get(), "<14155550123@TXT.ATT.NET>", true, "", "+14155550123", "AT&T"},
        {"Verizon MMS", on.get(), "<415-555-0123@vzwpix.com>", true, "", "+14155550123", "Verizon"},
        {"Canadian carrier reads a Canadian number", on.get(), "<6135550123@txt.bell.ca>", true, "",
         "+16135550123", "Bell"},
        {"a bad number at a carrier domain", on.get(), "<12@tmomail.net>", true,
         "550 5.1.1 Recipient is not a valid phone number", "", "T-Mobile"},
        {"country policy applies to carrier domains", on.get(), "<+33612345678@fido.ca>", true,
         "550 5.7.1 Destination country not permitted", "", "Fido"},
        {"a subdomain of a carrier domain is not one", on.get(), "<4155550123@x.vtext.com>", false,
         "", "", ""},
        {"the gateway domain still works", on.get(), "<4155550123@sms.example.com>", true, "",
         "+14155550123", ""},
        {"gateway domain with its own region: a British national number is not Canadian",
         regions.get(), "<07400123456@txt.example.ca>", true,
         "550 5.1.1 Recipient is not a valid phone number", "", ""},
        {"gateway domain with its own region: national number", regions.get(),
         "<6135550123@txt.example.ca>", true, "", "+16135550123", ""},
        {"gateway_domains wins over the shipped list", regions.get(), "<07400123456@tmomail.net>",
         true, "", "+447400123456", ""},
    };
    for (const auto& c : cases) {
        std::string name = c.name;
        CAPTURE(name);
        Envelope env{IpAddress::parse("127.0.0.1"), "<a@b>", ""};
        RcptDecision dec = decide_rcpt(*c.cfg, env, c.rcpt);
        CHECK(dec.gateway == c.gateway);
        CHECK(std::string(dec.carrier ? dec.carrier->carrier : "") == c.carrier);
        if (*c.reply) {
            CHECK(dec.reply.str() == c.reply);
        } else {
            CHECK(dec.reply.action == Reply::Action::Continue);
            CHECK(std::string(dec.number ? dec.number->e164 : "") == c.number);
        }
    }
}

TEST_CASE("the shipped carrier list is well formed") {
    std::set<std::string_view> seen;
    for (const auto& c : carrier_domains()) {
        CAPTURE(c.domain);
        CHECK(seen.insert(c.domain).second);
        CHECK(to_lower(c.domain) == c.domain);
        CHECK(is_supported_region(std::string(c.region)));
        CHECK(find_carrier_domain(c.domain) == &c);
        CHECK_FALSE(c.carrier.empty());
        CHECK((c.kind == "SMS" || c.kind == "MMS" || c.kind == "SMS/MMS"));
    }
    for (const char* want :
         {"vtext.com", "vzwpix.com", "txt.att.net", "mms.att.net", "tmomail.net",
          "messaging.sprintpcs.com", "pm.sprint.com", "email.uscc.net", "mms.uscc.net",
          "sms.cricketwireless.net", "mms.cricketwireless.net", "sms.myboostmobile.com",
          "myboostmobile.com", "mymetropcs.com", "msg.fi.google.com", "txt.bell.ca",
          "pcs.rogers.com", "msg.telus.com"}) {
        CAPTURE(want);
        CHECK(find_carrier_domain(want) != nullptr);
    }
    CHECK(find_carrier_domain("VText.COM") == find_carrier_domain("vtext.com"));
    CHECK(find_carrier_domain("example.com") == nullptr);
}

TEST_CASE("allowed_number_types") {
    static test::TempDir d;
    auto cfg = [](const std::string& extra) {
        return test::load_test_config(d, "allowed_countries = US CA GB DE\n" + extra);
    };
    auto dflt = cfg("");
    auto tollfree = cfg("allowed_number_types = fixed_line_or_mobile, TOLL_FREE\n");
    auto mobile = cfg("allowed_number_types = mobile\n");
    struct Case {
        const char* name;
        const Config* cfg;
        const char* rcpt;
        const char* reply;  // "" = continue
    };
    const Case cases[] = {
        {"an ordinary US number", dflt.get(), "<4155550123@sms.example.com>", ""},
        {"a British mobile", dflt.get(), "<+447400123456@sms.example.com>", ""},
        {"a British landline", dflt.get(), "<+441212345678@sms.example.com>", ""},
        {"US premium rate", dflt.get(), "<9005550199@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (premium_rate)"},
        {"US toll-free", dflt.get(), "<18005550123@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (toll_free)"},
        {"US personal number", dflt.get(), "<+15002345678@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (personal_number)"},
        {"British premium rate", dflt.get(), "<+449012345678@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (premium_rate)"},
        {"German shared cost", dflt.get(), "<+4918012345@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (shared_cost)"},
        {"British UAN", dflt.get(), "<+445512345678@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (uan)"},
        {"British VoIP", dflt.get(), "<+445612345678@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (voip)"},
        {"British pager", dflt.get(), "<+447640123456@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (pager)"},
        {"German voicemail", dflt.get(), "<+49177991234567@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (voicemail)"},
        {"toll-free when listed", tollfree.get(), "<18005550123@sms.example.com>", ""},
        {"premium rate still refused", tollfree.get(), "<9005550199@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (premium_rate)"},
        {"mobile only refuses US numbers", mobile.get(), "<4155550123@sms.example.com>",
         "550 5.7.1 Destination number type not permitted (fixed_line_or_mobile)"},
        {"mobile only allows a British mobile", mobile.get(), "<+447400123456@sms.example.com>",
         ""},
        {"country before type", dflt.get(), "<+33891123456@sms.example.com>",
         "550 5.7.1 Destination country not permitted"},
    };
    for (const auto& c : cases) {
        std::string name = c.name;
        CAPTURE(name);
        Envelope env{IpAddress::parse("127.0.0.1"), "<a@b>", ""};
        RcptDecision dec = decide_rcpt(*c.cfg, env, c.rcpt);
        CHECK(dec.gateway);
        CHECK(dec.reply.str() == (*c.reply ? std::string(c.reply) : "  "));
        CHECK(dec.number.has_value() == !*c.reply);
    }
}

TEST_CASE("local_submission") {
    auto deny = policy_config("");
    static test::TempDir d;
    auto allow = test::load_test_config(d, "local_submission = yes\n");
    auto decide = [](const Config& cfg, bool local, const char* client) {
        Envelope env{*client ? IpAddress::parse(client) : std::nullopt, "<a@example.com>", "",
                     local};
        return decide_rcpt(cfg, env, "<4155550123@sms.example.com>").reply.str();
    };
    const std::string denied = "550 5.7.1 SMS not permitted for mail submitted on this host";
    CHECK(decide(*deny, true, "127.0.0.1") == denied);  // Postfix: localhost, port 0
    CHECK(decide(*deny, true, "") == denied);           // Sendmail: no address
    CHECK(decide(*deny, false, "127.0.0.1") == "  ");   // an SMTP client on loopback
    CHECK(decide(*allow, true, "127.0.0.1") == "  ");
    CHECK(decide(*allow, true, "") == "  ");
    CHECK(decide(*deny, true, "192.0.2.1") == denied);  // checked first
    CHECK(decide_rcpt(*deny, Envelope{IpAddress::parse("127.0.0.1"), "<a@b>", "", true},
                      "<ops@example.org>")
              .gateway == false);
}

TEST_CASE("aliases at RCPT") {
    static test::TempDir d;
    d.write("aliases", "oncall: +14155550101, +16135550104\n");
    auto cfg = test::load_test_config(
        d,
        "allowed_countries = US CA\ncarrier_domains = yes\naliases = " + d.path() + "/aliases\n");
    Envelope env{IpAddress::parse("127.0.0.1"), "<a@b>", ""};
    RcptDecision a = decide_rcpt(*cfg, env, "<OnCall@sms.example.com>");
    CHECK(a.gateway);
    CHECK(a.reply.action == Reply::Action::Continue);
    CHECK(a.alias == "oncall");
    CHECK_FALSE(a.number);
    REQUIRE(a.numbers.size() == 2);
    CHECK(a.numbers[1].e164 == "+16135550104");
    RcptDecision n = decide_rcpt(*cfg, env, "<4155550123@sms.example.com>");
    CHECK(n.alias.empty());
    REQUIRE(n.numbers.size() == 1);
    CHECK(n.numbers[0].e164 == "+14155550123");
    CHECK(decide_rcpt(*cfg, env, "<nobody@sms.example.com>").reply.str() ==
          "550 5.1.1 Recipient is not a valid phone number");
    // Aliases live in the gateway domains only, not in the carriers' domains.
    CHECK(decide_rcpt(*cfg, env, "<oncall@vtext.com>").reply.str() ==
          "550 5.1.1 Recipient is not a valid phone number");
    // The access checks come first.
    CHECK(decide_rcpt(*cfg, Envelope{IpAddress::parse("192.0.2.1"), "<a@b>", ""},
                      "<oncall@sms.example.com>")
              .reply.str() == "550 5.7.1 SMS not permitted from this client");
}

TEST_CASE("strip_address_comments: as Postfix hands a recipient over") {
    CHECK(strip_address_comments("+1(415)555-1212@sms.example.com") ==
          "+1555-1212@sms.example.com");
    CHECK(strip_address_comments("<4155550123(cell (work))@x>") == "<4155550123@x>");
    CHECK(strip_address_comments("\"a(b)\"@example.org") == "\"a(b)\"@example.org");
    CHECK(strip_address_comments("a\\(b@x") == "a\\(b@x");
    CHECK(strip_address_comments("plain@x") == "plain@x");
}
