// The outbox's part in delivery status and replies (SPEC §9): the schema migration to
// version 2 (status columns on jobs; replies, reply_cursors and counters tables), the status
// poll schedule kept per job (next_poll), final statuses recorded once with their counters,
// the SIDs of replies already handled (exactly once across restarts), and where each reply
// poll left off.
#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "shared/outbox/outbox.h"
#include "shared/outbox/outbox_sql.h"
#include "shared/twilio/message_status.h"
#include "shared/twilio/twilio_errors.h"

namespace smsm {

namespace {

// Columns added to jobs by version 2; an outbox of version 1 keeps its rows: they were sent
// or failed before statuses were followed (next_poll 0: never polled).
constexpr std::pair<const char*, const char*> kNewJobColumns[] = {
    {"message_id", "TEXT NOT NULL DEFAULT ''"},    {"status", "TEXT NOT NULL DEFAULT ''"},
    {"status_code", "INTEGER NOT NULL DEFAULT 0"}, {"next_poll", "INTEGER NOT NULL DEFAULT 0"},
    {"polls", "INTEGER NOT NULL DEFAULT 0"},       {"sent_at", "INTEGER NOT NULL DEFAULT 0"},
    {"sent_from", "TEXT NOT NULL DEFAULT ''"},
};

constexpr const char* kSchemaV2 = R"(
CREATE INDEX IF NOT EXISTS jobs_poll ON jobs (next_poll) WHERE next_poll > 0;
CREATE INDEX IF NOT EXISTS jobs_number_sent ON jobs (number, sent_at);
CREATE TABLE IF NOT EXISTS replies (
    sid     TEXT PRIMARY KEY,
    at      INTEGER NOT NULL,
    number  TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_at ON replies (at);
CREATE TABLE IF NOT EXISTS reply_cursors (
    number TEXT PRIMARY KEY,
    since  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
)";

constexpr std::int64_t kReplySlack = 120;  // clock skew between us and Twilio, seconds

}  // namespace

void Outbox::migrate(std::int64_t from_version) {
    if (from_version >= 2) return;
    exec("BEGIN IMMEDIATE");
    try {
        std::set<std::string> have;
        {
            Stmt cols(db_.get(), "PRAGMA table_info(jobs)");
            while (cols.step()) have.insert(cols.text(1));
        }
        for (const auto& [name, decl] : kNewJobColumns)
            if (!have.count(name))
                exec(fmt::format("ALTER TABLE jobs ADD COLUMN {} {}", name, decl).c_str());
        exec(kSchemaV2);
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::vector<Job> Outbox::due_polls(std::int64_t now, std::size_t limit) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), fmt::format("SELECT {} FROM jobs WHERE next_poll > 0 AND next_poll <= ?1 "
                                  "AND state = 'sent' ORDER BY next_poll, id LIMIT ?2",
                                  kJobColumns));
    s.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
    std::vector<Job> jobs;
    while (s.step()) jobs.push_back(read_job(s));
    return jobs;
}

std::optional<std::int64_t> Outbox::next_poll_due() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT MIN(next_poll) FROM jobs WHERE next_poll > 0 AND state = 'sent'");
    if (s.step() && !s.is_null(0)) return s.integer(0);
    return std::nullopt;
}

bool Outbox::record_status(std::int64_t id, const StatusUpdate& u) {
    std::lock_guard lock(mutex_);
    std::int64_t now = unix_now();
    if (u.next_poll) {  // not final: no fsync of its own (a repeated poll is harmless)
        Stmt(unsynced_db_.get(),
             "UPDATE jobs SET status = ?2, status_code = ?3, sent_from = CASE WHEN ?4 != '' "
             "THEN ?4 ELSE sent_from END, next_poll = ?5, polls = polls + 1, updated = ?6 "
             "WHERE id = ?1 AND next_poll > 0")
            .bind(1, id)
            .bind(2, u.status)
            .bind(3, u.code)
            .bind(4, u.from)
            .bind(5, *u.next_poll)
            .bind(6, now)
            .run();
        return false;
    }
    std::string error = is_failed_status(u.status)
                            ? fmt::format("{} ({})", u.status, twilio_error_text(u.code))
                            : std::string();
    exec("BEGIN IMMEDIATE");
    try {
        bool recorded =
            Stmt(db_.get(),
                 "UPDATE jobs SET status = ?2, status_code = ?3, sent_from = CASE WHEN ?4 != '' "
                 "THEN ?4 ELSE sent_from END, next_poll = 0, polls = polls + 1, updated = ?5, "
                 "last_error = CASE WHEN ?6 != '' THEN ?6 ELSE last_error END "
                 "WHERE id = ?1 AND next_poll > 0")
                .bind(1, id)
                .bind(2, u.gave_up && u.status.empty() ? std::string("unknown") : u.status)
                .bind(3, u.code)
                .bind(4, u.from)
                .bind(5, now)
                .bind(6, error)
                .run() == 1;
        if (recorded) count_locked(u.gave_up ? std::string("status_unknown") : u.status);
        exec("COMMIT");
        return recorded;
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void Outbox::poll_failed(std::int64_t id, std::int64_t next_poll, const std::string& error) {
    std::lock_guard lock(mutex_);
    Stmt(unsynced_db_.get(),
         "UPDATE jobs SET next_poll = ?2, polls = polls + 1, updated = ?3, last_error = ?4 "
         "WHERE id = ?1 AND next_poll > 0")
        .bind(1, id)
        .bind(2, next_poll)
        .bind(3, unix_now())
        .bind(4, "status poll: " + error)
        .run();
}

int Outbox::stop_polls() {
    std::lock_guard lock(mutex_);
    return Stmt(db_.get(), "UPDATE jobs SET next_poll = 0 WHERE next_poll > 0").run();
}

std::vector<std::string> Outbox::sent_from_numbers(std::int64_t since) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(),
           "SELECT DISTINCT sent_from FROM jobs WHERE sent_from != '' AND sent_at >= ?1 LIMIT 100");
    s.bind(1, since);
    std::vector<std::string> numbers;
    while (s.step()) numbers.push_back(s.text(0));
    return numbers;
}

ReplyTarget Outbox::reply_target(const std::string& number, std::int64_t reply_at,
                                 std::chrono::seconds window) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(),
           "SELECT id, queue_id, sender, message_id, sent_at FROM jobs WHERE number = ?1 AND "
           "sent_at > 0 AND sent_at <= ?2 AND sent_at >= ?3 ORDER BY sent_at DESC, id DESC "
           "LIMIT 1");
    s.bind(1, number).bind(2, reply_at + kReplySlack).bind(3, reply_at - window.count());
    ReplyTarget t;
    if (s.step()) t = {s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4)};
    return t;
}

bool Outbox::claim_reply(const std::string& sid, const std::string& number, std::int64_t at,
                         const std::string& outcome) {
    std::lock_guard lock(mutex_);
    return Stmt(db_.get(),
                "INSERT OR IGNORE INTO replies (sid, at, number, outcome) VALUES (?1, ?2, ?3, ?4)")
               .bind(1, sid)
               .bind(2, at)
               .bind(3, number)
               .bind(4, outcome)
               .run() == 1;
}

void Outbox::set_reply_outcome(const std::string& sid, const std::string& outcome) {
    std::lock_guard lock(mutex_);
    Stmt(db_.get(), "UPDATE replies SET outcome = ?2 WHERE sid = ?1")
        .bind(1, sid)
        .bind(2, outcome)
        .run();
}

void Outbox::forget_reply(const std::string& sid) {
    std::lock_guard lock(mutex_);
    Stmt(db_.get(), "DELETE FROM replies WHERE sid = ?1").bind(1, sid).run();
}

std::int64_t Outbox::reply_cursor(const std::string& to) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT since FROM reply_cursors WHERE number = ?1");
    s.bind(1, to);
    return s.step() ? s.integer(0) : 0;
}

void Outbox::set_reply_cursor(const std::string& to, std::int64_t since) {
    std::lock_guard lock(mutex_);
    Stmt(unsynced_db_.get(),
         "INSERT INTO reply_cursors (number, since) VALUES (?1, ?2) ON CONFLICT (number) DO "
         "UPDATE SET since = MAX(since, ?2)")
        .bind(1, to)
        .bind(2, since)
        .run();
}

std::map<std::string, std::int64_t> Outbox::counters() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT name, value FROM counters");
    std::map<std::string, std::int64_t> out;
    while (s.step()) out[s.text(0)] = s.integer(1);
    return out;
}

void Outbox::count(const std::string& name) {
    std::lock_guard lock(mutex_);
    count_locked(name);
}

void Outbox::count_locked(const std::string& name) {
    Stmt(db_.get(),
         "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET "
         "value = value + 1")
        .bind(1, name)
        .run();
}

}  // namespace smsm
