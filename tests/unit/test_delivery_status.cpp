// Delivery status and replies (SPEC §9) without a network: the poll schedule, Twilio's
// message resource and list pages, keywords, error meanings, the reply mail and its
// recipient, and the outbox's part (migration from schema 1, final status recorded once,
// each reply's SID once).
#include <doctest/doctest.h>

#include <sqlite3.h>

#include "shared/base/clock.h"
#include "shared/config_load/load_config.h"
#include "shared/outbox/outbox.h"
#include "shared/status/reply_mail.h"
#include "shared/twilio/message_status.h"
#include "shared/twilio/twilio.h"
#include "shared/twilio/twilio_errors.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

TEST_CASE(
    "status poll schedule: each time after the last poll, the last repeating, until "
    "give-up") {
    test::TempDir d;
    auto cfg = test::load_test_config(d,
                                      "status_poll_schedule = 30s, 2m, 10m, 1h\n"
                                      "status_poll_give_up = 3h\n");
    const std::int64_t sent = 1'000'000;
    struct Case {
        int polls;
        std::int64_t now;
        std::optional<std::int64_t> want;
    };
    for (const auto& c : std::vector<Case>{
             {0, sent, sent + 30},                // first: 30 s after the send
             {1, sent + 30, sent + 30 + 120},     // then 2 min after that poll
             {2, sent + 150, sent + 150 + 600},   // 10 min
             {3, sent + 750, sent + 750 + 3600},  // 1 h
             {7, sent + 8000, sent + 3 * 3600},   // 1 h again, cut at the give-up time
             {8, sent + 3 * 3600, std::nullopt},  // give up
             {0, sent + 4 * 3600, std::nullopt},  // a job sent long ago: none
         }) {
        CAPTURE(c.polls);
        CHECK(next_poll_time(*cfg, c.polls, sent, c.now) == c.want);
    }
    CHECK(cfg->status_polling);
    CHECK_FALSE(cfg->reply_forwarding);
}

TEST_CASE("status poll config: bad schedules are refused with the key's line") {
    test::TempDir d;
    for (const char* bad : {"status_poll_schedule = \n", "status_poll_schedule = 0s\n",
                            "status_poll_schedule = 30s, soon\n", "status_polling = maybe\n",
                            "reply_window = 10s\n", "reply_poll_interval = 0\n"}) {
        CAPTURE(bad);
        auto load = load_config(d.write("bad.conf", test::minimal_config(d) + bad));
        CHECK_FALSE(load.config);
    }
}

TEST_CASE("reply_forwarding with a Messaging Service needs the status polls") {
    test::TempDir d;
    std::string mg = "twilio_messaging_service_sid = MG0123456789abcdef0123456789abcdef\n";
    std::string cfg = test::minimal_config(d);
    cfg.replace(cfg.find("twilio_from"), std::string("twilio_from = +15005550006\n").size(), mg);
    auto bad =
        load_config(d.write("mg.conf", cfg + "reply_forwarding = yes\nstatus_polling = no\n"));
    REQUIRE_FALSE(bad.config);
    CHECK(bad.errors.front().find("needs status_polling = yes") != std::string::npos);
    CHECK(load_config(d.write("mg2.conf", cfg + "reply_forwarding = yes\n")).config);
}

TEST_CASE("a message resource: status, error code, the number it was sent from") {
    auto s = parse_message_status(
        R"({"sid":"SM1","status":"undelivered","error_code":30007,"from":"+15005550006"})");
    CHECK(s.ok);
    CHECK(s.status == "undelivered");
    CHECK(s.error_code == 30007);
    CHECK(s.from == "+15005550006");
    CHECK(is_final_status(s.status));
    CHECK(is_failed_status(s.status));
    auto q = parse_message_status(R"({"status":"sent","error_code":null,"from":null})");
    CHECK(q.ok);
    CHECK(q.error_code == 0);
    CHECK_FALSE(is_final_status(q.status));
    CHECK(is_final_status("delivered"));
    CHECK_FALSE(is_failed_status("delivered"));
    CHECK(is_failed_status("failed"));
    CHECK(parse_message_status(R"({"status":"failed","error_code":"30008"})").error_code == 30008);
    CHECK_FALSE(parse_message_status("not json").ok);
    CHECK_FALSE(parse_message_status(R"({"code":20404})").ok);
}

TEST_CASE("a list page: the inbound messages since the cursor, and whether to read on") {
    std::string page = R"({"messages":[
      {"sid":"SM3","from":"+14155550150","to":"+15005550006","body":"ACK","direction":"inbound",
       "date_created":"Tue, 01 Dec 2026 20:00:10 +0000"},
      {"sid":"SM2","from":"+15005550006","to":"+14155550150","body":"ALERT","direction":
       "outbound-api","date_created":"Tue, 01 Dec 2026 20:00:05 +0000"},
      {"sid":"SM1","from":"+14155550150","to":"+15005550006","body":"old","direction":"inbound",
       "date_created":"Tue, 01 Dec 2026 19:00:00 +0000"}],
      "next_page_uri":"/2010-04-01/Accounts/AC1/Messages.json?Page=1"})";
    auto since = to_unix(*parse_rfc2822_date("Tue, 01 Dec 2026 20:00:00 +0000"));
    auto p = parse_inbound_page(page, since);
    REQUIRE(p.ok);
    REQUIRE(p.messages.size() == 1);
    CHECK(p.messages[0].sid == "SM3");
    CHECK(p.messages[0].body == "ACK");
    CHECK(p.messages[0].at == since + 10);
    CHECK(p.next_page_uri.empty());  // an older message was on this page: no need to read on
    auto all = parse_inbound_page(page, 0);
    CHECK(all.messages.size() == 2);
    CHECK(all.next_page_uri == "/2010-04-01/Accounts/AC1/Messages.json?Page=1");
    CHECK_FALSE(parse_inbound_page("[]", 0).ok);
}

TEST_CASE("keywords: the whole reply, any case; anything else is a plain reply") {
    CHECK(reply_keyword(" stop ") == "STOP");
    CHECK(reply_keyword("Unsubscribe") == "STOP");
    CHECK(reply_keyword("START") == "START");
    CHECK(reply_keyword("help") == "HELP");
    CHECK(reply_keyword("stop the alerts please") == "");
    CHECK(reply_keyword("ACK") == "");
}

TEST_CASE("Twilio error codes in words") {
    CHECK(twilio_error_text(30007).rfind("30007: message filtered by the carrier", 0) == 0);
    CHECK(twilio_error_text(30003).find("unreachable") != std::string::npos);
    CHECK(twilio_error_text(30005).find("does not exist") != std::string::npos);
    CHECK(twilio_error_text(30006).find("landline") != std::string::npos);
    CHECK(twilio_error_text(30001).find("queue overflow") != std::string::npos);
    CHECK(twilio_error_text(14107).find("pair of numbers") != std::string::npos);
    CHECK(twilio_error_text(39999) == "39999: see https://www.twilio.com/docs/errors/39999");
    CHECK(twilio_error_text(0) == "no error code");
}

TEST_CASE("Message-ID: only a well-formed one goes into a reply's headers") {
    CHECK(well_formed_message_id(" <abc.1@host.example> ") == "<abc.1@host.example>");
    CHECK(well_formed_message_id("<abc@host> (comment)") == "<abc@host>");
    CHECK(well_formed_message_id("abc@host") == "");
    CHECK(well_formed_message_id("<no-at-sign>") == "");
    CHECK(well_formed_message_id("<a b@host>") == "");
    CHECK(well_formed_message_id("<a@host>\r\nBcc: x@evil") == "");
    CHECK(well_formed_message_id("<" + std::string(300, 'a') + "@h>") == "");
}

TEST_CASE("a reply goes to the alert's envelope sender, never the null sender or a gateway") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "", "sms.example.com, txt.example.net");
    std::string why;
    CHECK(reply_recipient(*cfg, "Alerts@Example.com", why) == "alerts@example.com");
    CHECK(reply_recipient(*cfg, "", why).empty());
    CHECK(why.find("null sender") != std::string::npos);
    CHECK(reply_recipient(*cfg, "+14155550123@txt.example.net", why).empty());
    CHECK(why.find("gateway domain") != std::string::npos);
}

TEST_CASE(
    "the reply mail: From the number at the first gateway domain, threaded, masked "
    "subject, keyword marked, text made safe") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "", "sms.example.com, txt.example.net");
    InboundMessage m{"SMabc", "+14155551212", "+15005550006", "ACK\x1b[31m", 1'796'000'000};
    ReplyTarget alert{7, "4Bf3Zk1Qv", "alerts@example.com", "<a1@app.example.com>", 1'795'999'000};
    std::string mail = compose_reply(*cfg, m, alert, "alerts@example.com", "", 1'796'000'005);
    CHECK(mail.find("From: <+14155551212@sms.example.com>\n") != std::string::npos);
    CHECK(mail.find("To: <alerts@example.com>\n") != std::string::npos);
    CHECK(mail.find("Subject: SMS reply from +1415***1212\n") != std::string::npos);
    CHECK(mail.find("In-Reply-To: <a1@app.example.com>\nReferences: <a1@app.example.com>\n") !=
          std::string::npos);
    CHECK(mail.find("Message-ID: <SMabc.1796000005@sms.example.com>\n") != std::string::npos);
    CHECK(mail.find('\x1b') == std::string::npos);
    CHECK(mail.find("X-SMS-Keyword") == std::string::npos);
    alert.message_id = "<broken";
    std::string stop = compose_reply(*cfg, m, alert, "alerts@example.com", "STOP", 1);
    CHECK(stop.find("Subject: SMS reply from +1415***1212 (STOP)\n") != std::string::npos);
    CHECK(stop.find("X-SMS-Keyword: STOP\n") != std::string::npos);
    CHECK(stop.find("In-Reply-To") == std::string::npos);
}

TEST_CASE("outbox schema 1 is migrated: its jobs stay, unpolled; new columns work") {
    test::TempDir d;
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((d.path() + "/outbox.db").c_str(), &db) == SQLITE_OK);
        const char* v1 = R"(
CREATE TABLE jobs (id INTEGER PRIMARY KEY, created INTEGER NOT NULL, updated INTEGER NOT NULL,
  queue_id TEXT NOT NULL, sender TEXT NOT NULL, rcpt TEXT NOT NULL, number TEXT NOT NULL,
  body TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN
  ('queued','sending','sent','deferred','failed')), attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL, expires INTEGER NOT NULL, check_first INTEGER NOT NULL
  DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', sid TEXT NOT NULL DEFAULT '');
INSERT INTO jobs (created, updated, queue_id, sender, rcpt, number, body, state, next_attempt,
  expires, sid) VALUES (1, 1, 'Q0', 'a@example.com', 'r', '+14155550123', 'old', 'sent', 1,
  2, 'SMold');
PRAGMA user_version = 1;)";
        REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    Outbox outbox(d.path());
    auto old = outbox.get(1);
    REQUIRE(old);
    CHECK(old->sid == "SMold");
    CHECK(old->next_poll == 0);
    CHECK(old->status.empty());
    CHECK(outbox.due_polls(unix_now() + 86400, 10).empty());

    NewJob j{"Q1",
             "alerts@example.com",
             "<+14155550150@sms.example.com>",
             "+14155550150",
             "ALERT",
             "",
             Clock::now() + std::chrono::hours(1)};
    j.message_id = "<m1@example.com>";
    auto id = outbox.enqueue({j}, std::chrono::seconds(0)).ids.at(0);
    REQUIRE(outbox.claim_due(1, 0).size() == 1);
    auto now = unix_now();
    outbox.mark_sent(id, "SMnew", now);
    auto due = outbox.due_polls(now, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].message_id == "<m1@example.com>");
    CHECK(due[0].sent_at >= now - 1);

    // Not final: rescheduled. Final: recorded and counted once, even if polled again.
    CHECK_FALSE(outbox.record_status(id, {"sent", 0, "+15005550006", now + 60, false}));
    CHECK(outbox.due_polls(now, 10).empty());
    CHECK(outbox.next_poll_due() == now + 60);
    CHECK(outbox.record_status(id, {"undelivered", 30007, "", std::nullopt, false}));
    CHECK_FALSE(outbox.record_status(id, {"undelivered", 30007, "", std::nullopt, false}));
    auto done = outbox.get(id);
    CHECK(done->status == "undelivered");
    CHECK(done->status_code == 30007);
    CHECK(done->sent_from == "+15005550006");
    CHECK(done->polls == 2);
    CHECK(done->last_error.find("30007: message filtered") != std::string::npos);
    CHECK(outbox.counters()["undelivered"] == 1);
    CHECK(outbox.sent_from_numbers(now - 10) == std::vector<std::string>{"+15005550006"});

    // Replies: the alert they answer, each SID once.
    auto target = outbox.reply_target("+14155550150", now + 5, std::chrono::hours(1));
    CHECK(target.job == id);
    CHECK(target.message_id == "<m1@example.com>");
    CHECK(outbox.reply_target("+14155550150", now + 7200, std::chrono::hours(1)).job == 0);
    CHECK(outbox.reply_target("+14155550199", now, std::chrono::hours(1)).job == 0);
    CHECK(outbox.claim_reply("SMr1", "+14155550150", now, "mailing"));
    CHECK_FALSE(outbox.claim_reply("SMr1", "+14155550150", now, "mailing"));
    outbox.forget_reply("SMr1");
    CHECK(outbox.claim_reply("SMr1", "+14155550150", now, "mailing"));
    CHECK(outbox.reply_cursor("+15005550006") == 0);
    outbox.set_reply_cursor("+15005550006", 100);
    outbox.set_reply_cursor("+15005550006", 50);  // never backwards
    CHECK(outbox.reply_cursor("+15005550006") == 100);
}
