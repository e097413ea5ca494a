// A whole message through Message and the SQLite outbox: jobs committed, recipients to
// remove, DISCARD versus CONTINUE, and the no-text and store-failure replies.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "shared/config/config_holder.h"
#include "shared/delivery/sender.h"
#include "shared/outbox/group_commit.h"
#include "shared/session/end_of_message.h"
#include "shared/session/session.h"
#include "shared/text/message_text.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

std::shared_ptr<const Config> session_config(const test::TempDir& d) {
    return test::load_test_config(d);
}

Message new_message(const std::shared_ptr<const Config>& cfg) {
    return Message(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<alerts@example.com>", ""});
}

}  // namespace

TEST_CASE("SMS-only message: jobs committed, recipients removed, message discarded") {
    test::TempDir d;
    auto cfg = session_config(d);
    Outbox outbox(d.path());
    Message m = new_message(cfg);
    CHECK(m.rcpt("<4155550123@SMS.example.com>", "").action == Reply::Action::Continue);
    CHECK(m.rcpt("<+14155550123@sms.example.com>", "Q1").action == Reply::Action::Continue);
    CHECK(m.rcpt("<2125550123@sms.example.com>", "Q1").action == Reply::Action::Continue);
    CHECK(m.rcpt("<12@sms.example.com>", "Q1").action == Reply::Action::Reject);
    m.header("Subject", "DISK FULL");
    m.body("db1 at 99%\r\n");
    EomOutcome out = m.end("Q1", outbox);
    CHECK(out.reply.action == Reply::Action::Discard);
    CHECK(out.job_ids.size() == 2);  // the same number twice is texted once
    CHECK(out.remove == std::vector<std::string>{"<4155550123@SMS.example.com>",
                                                 "<+14155550123@sms.example.com>",
                                                 "<2125550123@sms.example.com>"});
    auto job = outbox.claim_due();
    REQUIRE(job);
    CHECK(job->queue_id == "Q1");
    CHECK(job->sender == "alerts@example.com");
    CHECK(job->number == "+14155550123");
    CHECK(job->body == "DISK FULL\ndb1 at 99%");
    CHECK(job->state == JobState::Sending);
    CHECK(job->attempts == 1);
}

TEST_CASE("an ordinary recipient keeps the message: CONTINUE") {
    test::TempDir d;
    auto cfg = session_config(d);
    Outbox outbox(d.path());
    Message m = new_message(cfg);
    m.rcpt("<ops@example.org>", "");
    m.rcpt("<4155550123@sms.example.com>", "");
    m.header("Subject", "x");
    EomOutcome out = m.end("Q2", outbox);
    CHECK(out.reply.action == Reply::Action::Continue);
    CHECK(out.remove == std::vector<std::string>{"<4155550123@sms.example.com>"});
}

TEST_CASE("no text at all: 550 5.6.0 and no job") {
    test::TempDir d;
    auto cfg = session_config(d);
    Outbox outbox(d.path());
    Message m = new_message(cfg);
    m.rcpt("<4155550123@sms.example.com>", "");
    m.header("From", "a@b");
    m.body("\r\n   \r\n");
    EomOutcome out = m.end("Q3", outbox);
    CHECK(out.reply.str() == "550 5.6.0 Message has no text to send as SMS");
    CHECK(out.remove.empty());
    CHECK_FALSE(outbox.claim_due());
}

TEST_CASE("an outbox that cannot commit: 451 4.3.0, nothing removed") {
    test::TempDir d;
    auto cfg = session_config(d);
    Outbox outbox(d.path());
    Message m = new_message(cfg);
    m.rcpt("<4155550123@sms.example.com>", "");
    m.header("Subject", "x");
    ::chmod(d.path().c_str(), 0500);  // root ignores this, so also break the schema
    {
        sqlite3* db = nullptr;
        sqlite3_open((d.path() + "/outbox.db").c_str(), &db);
        sqlite3_exec(db, "DROP TABLE jobs", nullptr, nullptr, nullptr);
        sqlite3_close(db);
    }
    EomOutcome out = m.end("Q4", outbox);
    ::chmod(d.path().c_str(), 0700);
    CHECK(out.reply.str() == "451 4.3.0 Cannot queue SMS now, try again later");
    CHECK(out.remove.empty());
    CHECK(out.job_ids.empty());
}

TEST_CASE("the outbox keeps state across reopen and defers by time") {
    test::TempDir d;
    auto later = Clock::now() + std::chrono::hours(1);
    {
        Outbox outbox(d.path());
        auto queued = outbox.enqueue({{"Q", "s@x", "<1@sms>", "+14155550123", "hi", "", later}},
                                     std::chrono::hours(1));
        REQUIRE(queued.ids.size() == 1);
        auto job = outbox.claim_due();
        REQUIRE(job);
        CHECK_FALSE(outbox.claim_due());  // one claim per job
        outbox.mark_deferred(job->id, later, "HTTP 429", false);
        CHECK_FALSE(outbox.claim_due());
        REQUIRE(outbox.next_due());
        CHECK(outbox.retry_now(job->id));
        REQUIRE(outbox.claim_due());  // left in 'sending', as a crash would
    }
    Outbox again(d.path());
    CHECK(again.recover_interrupted() == 1);
    auto job = again.claim_due();
    REQUIRE(job);
    CHECK(job->check_first);
    CHECK(job->attempts == 3);
    again.mark_sent(job->id, "SM1");
    CHECK(again.count_by_state() == std::map<std::string, std::int64_t>{{"sent", 1}});
    CHECK_FALSE(again.drop(999));
    CHECK(again.drop(job->id));
    CHECK(again.list(10).empty());
}

TEST_CASE("the dedup table skips a job queued within the window") {
    test::TempDir d;
    Outbox outbox(d.path());
    auto later = Clock::now() + std::chrono::hours(1);
    NewJob j{"Q1", "s@x", "<1@sms>", "+14155550123", "hi", "key-1", later};
    CHECK(outbox.enqueue({j}, std::chrono::hours(1)).duplicates == 0);
    j.queue_id = "Q2";  // the client's retry gets a new queue ID
    auto again =
        outbox.enqueue({j, NewJob{"Q2", "s@x", "<2@sms>", "+14155550124", "hi", "key-2", later}},
                       std::chrono::hours(1));
    CHECK(again.duplicates == 1);
    CHECK(again.ids[0] == 0);
    CHECK(again.ids[1] != 0);
    // A window of zero forgets at once.
    CHECK(outbox
              .enqueue({NewJob{"Q3", "s@x", "<2@sms>", "+14155550124", "hi", "key-3", later}},
                       std::chrono::seconds(0))
              .duplicates == 0);
}

TEST_CASE("the same message submitted twice is queued once") {
    test::TempDir d;
    auto cfg = session_config(d);
    Outbox outbox(d.path());
    for (const char* qid : {"QA", "QB"}) {
        Message m = new_message(cfg);
        m.rcpt("<4155550123@sms.example.com>", "");
        m.header("Message-ID", "<123@app.example.com>");
        m.header("Subject", "DISK FULL");
        EomOutcome out = m.end(qid, outbox);
        CHECK(out.reply.action == Reply::Action::Discard);  // removed and discarded both times
        CHECK(out.remove.size() == 1);
        CHECK(out.job_ids.size() == (std::string(qid) == "QA" ? 1u : 0u));
    }
}

TEST_CASE("a new alert with the same text but another Date is texted again (storm_window off)") {
    test::TempDir d;
    auto cfg = test::load_test_config(d, "storm_window = 0\n");
    Outbox outbox(d.path());
    std::size_t jobs = 0;
    for (const char* date : {"Wed, 25 Nov 2026 10:00:00 +0000", "Wed, 25 Nov 2026 10:05:00 +0000",
                             "Wed, 25 Nov 2026 10:05:00 +0000"}) {
        Message m = new_message(cfg);
        m.rcpt("<4155550123@sms.example.com>", "");
        m.header("Date", date);
        m.header("Subject", "UPS on battery");  // a device that sends no Message-ID
        jobs += m.end("Q", outbox).job_ids.size();
    }
    CHECK(jobs == 2);  // the third is a resubmission of the second
}

TEST_CASE("finished jobs are purged after outbox_retention") {
    test::TempDir d;
    Outbox outbox(d.path());
    auto later = Clock::now() + std::chrono::hours(1);
    outbox.enqueue({{"Q", "s@x", "<1@sms>", "+14155550123", "a", "", later},
                    {"Q", "s@x", "<2@sms>", "+14155550124", "b", "", later}},
                   std::chrono::hours(1));
    auto job = outbox.claim_due();
    REQUIRE(job);
    outbox.mark_sent(job->id, "SM1");
    CHECK(outbox.purge_finished(Clock::now() - std::chrono::hours(1)) == 0);
    CHECK(outbox.purge_finished(Clock::now() + std::chrono::seconds(2)) ==
          1);  // the queued one stays
    CHECK(outbox.count_by_state() == std::map<std::string, std::int64_t>{{"queued", 1}});
}

TEST_CASE("concurrent messages share commits and each gets its own jobs (group commit)") {
    test::TempDir d;
    Outbox outbox(d.path());
    auto later = Clock::now() + std::chrono::hours(1);
    constexpr int kThreads = 16;
    std::vector<EnqueueResult> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&, i] {
            // Threads 0 and 1 queue the same dedup key: exactly one of them is a duplicate.
            std::string key = i < 2 ? "same-key" : "key-" + std::to_string(i);
            NewJob j{"Q" + std::to_string(i),     "s@x", "<1@sms>", "+14155550123",
                     "text " + std::to_string(i), key,   later};
            results[static_cast<std::size_t>(i)] = outbox.enqueue({j}, std::chrono::hours(1));
        });
    for (auto& t : threads) t.join();
    std::set<std::int64_t> ids;
    std::size_t duplicates = 0;
    for (const auto& r : results) {
        REQUIRE(r.ids.size() == 1);
        duplicates += r.duplicates;
        if (r.ids[0] != 0) ids.insert(r.ids[0]);
    }
    CHECK(duplicates == 1);
    CHECK(ids.size() == kThreads - 1);
    CHECK(outbox.count_by_state() == std::map<std::string, std::int64_t>{{"queued", kThreads - 1}});
    for (auto id : ids) CHECK(outbox.get(id)->queue_id.rfind('Q', 0) == 0);
}

TEST_CASE("group commit: a failing request fails alone, a failing batch fails everyone") {
    GroupCommit<int, int> group;
    auto doubler = [](std::vector<GroupCommit<int, int>::Item*>& batch) {
        for (auto* item : batch) {
            if (*item->request < 0)
                item->error = std::make_exception_ptr(std::runtime_error("negative"));
            else
                item->result = *item->request * 2;
        }
    };
    CHECK(group.submit(21, doubler) == 42);
    CHECK_THROWS_AS(group.submit(-1, doubler), std::runtime_error);
    auto broken = [](std::vector<GroupCommit<int, int>::Item*>&) {
        throw std::runtime_error("disk full");
    };
    CHECK_THROWS_WITH(group.submit(1, broken), "disk full");
    CHECK(group.submit(2, doubler) == 4);  // the group recovers
}

// Local submission (sendmail(1)): Postfix cannot refuse a recipient at RCPT there, so every
// refusal is answered at end of message: the whole message when nobody else is left (the MTA
// bounces it), otherwise the recipient is removed and the sender gets a notice.
TEST_CASE("local submission: refusals at end of message") {
    test::TempDir d;
    // A stand-in for sendmail(1) that keeps each notice and its arguments.
    std::string fake = d.write("fake-sendmail",
                               "#!/bin/sh\n"
                               "printf '%s\\n' \"$*\" >>" +
                                   d.path() +
                                   "/notice-args\n"
                                   "cat >>" +
                                   d.path() + "/notices\n",
                               0700);
    auto read = [&](const std::string& name) {
        std::ifstream in(d.path() + "/" + name);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    auto deny = test::load_test_config(d, "sendmail_command = " + fake + "\n");
    static test::TempDir d2;
    auto allow =
        test::load_test_config(d2, "local_submission = yes\nsendmail_command = " + fake + "\n");
    auto local = [](const std::shared_ptr<const Config>& cfg) {
        return Message(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<root@relay.example.com>", "",
                                     /*local_submission=*/true});
    };
    const std::string denied = "550 5.7.1 SMS not permitted for mail submitted on this host";

    SUBCASE("only SMS recipients: the message is refused, nothing queued") {
        Outbox outbox(d.path());
        Message m = local(deny);
        CHECK(m.rcpt("<4155550123@sms.example.com>", "").action == Reply::Action::Continue);
        CHECK(m.rcpt("<4155550124@sms.example.com>", "").action == Reply::Action::Continue);
        CHECK(m.has_sms());
        m.header("Subject", "DISK FULL");
        EomOutcome out = end_message(m, "L1", outbox, nullptr, {});
        CHECK(out.reply.str() == denied);
        CHECK(out.remove.empty());
        CHECK(out.job_ids.empty());
        CHECK_FALSE(outbox.claim_due());
        CHECK(read("notices").empty());  // the MTA's bounce tells the sender
    }
    SUBCASE("an ordinary co-recipient keeps the message; the SMS one is removed, with a notice") {
        Outbox outbox(d.path());
        Message m = local(deny);
        CHECK(m.rcpt("<ops@example.org>", "").action == Reply::Action::Continue);
        CHECK(m.rcpt("<4155550123@sms.example.com>", "").action == Reply::Action::Continue);
        m.header("Subject", "DISK FULL");
        m.body("db1 at 99%\r\n");
        EomOutcome out = end_message(m, "L2", outbox, nullptr, {});
        CHECK(out.reply.action == Reply::Action::Continue);
        CHECK(out.remove == std::vector<std::string>{"<4155550123@sms.example.com>"});
        CHECK(out.job_ids.empty());
        CHECK_FALSE(outbox.claim_due());
        CHECK(read("notice-args") == "-i -f  -- root@relay.example.com\n");
        std::string notice = read("notices");
        CHECK(notice.find("To: root@relay.example.com\n") != std::string::npos);
        CHECK(notice.find("Subject: SMS not delivered to +14155550123") != std::string::npos);
        CHECK(notice.find("Reason:     " + denied) != std::string::npos);
        CHECK(notice.find("L2") != std::string::npos);
    }
    SUBCASE("local_submission = yes: texted; a bad number is removed with a notice") {
        Outbox outbox(d2.path());
        Message m = local(allow);
        CHECK(m.rcpt("<4155550123@sms.example.com>", "").action == Reply::Action::Continue);
        CHECK(m.rcpt("<9005550199@sms.example.com>", "").action == Reply::Action::Continue);
        CHECK(m.rcpt("<12@sms.example.com>", "").action == Reply::Action::Continue);
        m.header("Subject", "DISK FULL");
        EomOutcome out = end_message(m, "L3", outbox, nullptr, {});
        CHECK(out.reply.action == Reply::Action::Discard);
        CHECK(out.job_ids.size() == 1);
        CHECK(out.remove == std::vector<std::string>{"<9005550199@sms.example.com>",
                                                     "<12@sms.example.com>",
                                                     "<4155550123@sms.example.com>"});
        auto job = outbox.claim_due();
        REQUIRE(job);
        CHECK(job->number == "+14155550123");
        std::string notice = read("notices");
        CHECK(notice.find("Reason:     550 5.7.1 Destination number type not permitted "
                          "(premium_rate)") != std::string::npos);
        CHECK(notice.find("Subject: SMS not delivered to 12@sms.example.com") != std::string::npos);
    }
    SUBCASE("local_submission = yes, only a bad number: that refusal for the message") {
        Outbox outbox(d2.path());
        Message m = local(allow);
        m.rcpt("<12@sms.example.com>", "");
        m.header("Subject", "x");
        EomOutcome out = end_message(m, "L4", outbox, nullptr, {});
        CHECK(out.reply.str() == "550 5.1.1 Recipient is not a valid phone number");
        CHECK(out.remove.empty());
    }
    SUBCASE("an SMTP client is still refused at RCPT") {
        Message m(deny, Envelope{IpAddress::parse("127.0.0.1"), "<a@example.com>", ""});
        CHECK(m.rcpt("<12@sms.example.com>", "").str() ==
              "550 5.1.1 Recipient is not a valid phone number");
        CHECK(m.rcpt("<4155550123@sms.example.com>", "").action == Reply::Action::Continue);
    }
}

TEST_CASE("an alias fans out: one job per distinct number, the recipient removed once") {
    test::TempDir d;
    d.write("aliases", "oncall: +14155550101, +14155550102\nall: oncall, +14155550103\n");
    auto cfg = test::load_test_config(d, "aliases = " + d.path() + "/aliases\n");
    Outbox outbox(d.path());
    Message m = new_message(cfg);
    CHECK(m.rcpt("<oncall@sms.example.com>", "").action == Reply::Action::Continue);
    CHECK(m.rcpt("<All@sms.example.com>", "").action == Reply::Action::Continue);
    CHECK(m.rcpt("<4155550101@sms.example.com>", "").action == Reply::Action::Continue);
    m.header("Subject", "DISK FULL");
    EomOutcome out = m.end("A1", outbox);
    CHECK(out.reply.action == Reply::Action::Discard);
    CHECK(out.job_ids.size() == 3);
    CHECK(out.remove == std::vector<std::string>{"<oncall@sms.example.com>",
                                                 "<All@sms.example.com>",
                                                 "<4155550101@sms.example.com>"});
    std::multiset<std::string> numbers;
    while (auto job = outbox.claim_due()) {
        numbers.insert(job->number);
        if (job->number == "+14155550103") CHECK(job->rcpt == "<All@sms.example.com>");
    }
    CHECK(numbers == std::multiset<std::string>{"+14155550101", "+14155550102", "+14155550103"});
}

TEST_CASE("a refusal notice is mailed by the sender's notice thread, not on the MTA's time") {
    test::TempDir d;
    // A slow sendmail(1): the notice appears two seconds after it is handed over.
    std::string fake = d.write("slow-sendmail",
                               "#!/bin/sh\nsleep 2\ncat >" + d.path() + "/notice.tmp\nmv " +
                                   d.path() + "/notice.tmp " + d.path() + "/notice\n",
                               0700);
    auto cfg = test::load_test_config(
        d, "state_directory = " + d.path() + "\nsendmail_command = " + fake + "\n");
    ConfigHolder holder(cfg);
    Outbox outbox(d.path());
    Sender sender(holder, outbox);
    sender.start();
    Message m(cfg, Envelope{IpAddress::parse("127.0.0.1"), "<root@relay.example.com>", "",
                            /*local_submission=*/true});
    CHECK(m.rcpt("<ops@example.org>", "").action == Reply::Action::Continue);
    CHECK(m.rcpt("<4155550123@sms.example.com>", "").action == Reply::Action::Continue);
    m.header("Subject", "DISK FULL");
    EomOutcome out = end_message(m, "L9", outbox, &sender, [] {});
    CHECK(out.remove == std::vector<std::string>{"<4155550123@sms.example.com>"});
    CHECK_FALSE(std::ifstream(d.path() + "/notice"));  // end of message did not wait for it
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!std::ifstream(d.path() + "/notice") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sender.stop();
    std::ifstream in(d.path() + "/notice");
    std::string notice((std::istreambuf_iterator<char>(in)), {});
    CHECK(notice.find("Subject: SMS not delivered to +14155550123") != std::string::npos);
}
