// The durable outbox on SQLite. Every statement goes through Stmt (RAII) and every failure
// becomes a std::runtime_error naming the SQLite error; callers decide the SMTP outcome.
#include "shared/outbox/outbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "shared/outbox/outbox_files.h"
#include "shared/outbox/outbox_sql.h"

namespace smsm {

namespace {

constexpr std::int64_t kSchemaVersion = 2;  // 2: delivery status and replies
constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    queue_id     TEXT NOT NULL,
    sender       TEXT NOT NULL,
    rcpt         TEXT NOT NULL,
    number       TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued','sending','sent','deferred','failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    check_first  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    sid          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, next_attempt);
CREATE TABLE IF NOT EXISTS dedup (
    key     TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    job_id  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dedup_created ON dedup (created);
CREATE TABLE IF NOT EXISTS rate_events (
    at     INTEGER NOT NULL,
    sender TEXT NOT NULL,
    number TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_at ON rate_events (at);
CREATE TABLE IF NOT EXISTS storms (
    id        INTEGER PRIMARY KEY,
    key       TEXT NOT NULL,
    first_job INTEGER NOT NULL,
    queue_id  TEXT NOT NULL,
    sender    TEXT NOT NULL,
    rcpt      TEXT NOT NULL,
    number    TEXT NOT NULL,
    window    INTEGER NOT NULL,
    closes    INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    held      INTEGER NOT NULL DEFAULT 0,
    sample    TEXT NOT NULL DEFAULT '',
    shared_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS storms_key ON storms (key, closes);
CREATE INDEX IF NOT EXISTS storms_closes ON storms (closes);
CREATE INDEX IF NOT EXISTS jobs_number ON jobs (number);
CREATE TABLE IF NOT EXISTS lookup_misses (
    job_id     INTEGER PRIMARY KEY,
    first_miss INTEGER NOT NULL
);
)";

}  // namespace

const char* const kJobColumns =
    "id, queue_id, sender, rcpt, number, body, state, attempts, last_error, sid, check_first, "
    "created, next_attempt, expires, message_id, status, status_code, next_poll, polls, "
    "sent_at, sent_from";

namespace {

JobState parse_state(const std::string& name) {
    for (auto st : {JobState::Queued, JobState::Sending, JobState::Sent, JobState::Deferred,
                    JobState::Failed})
        if (name == state_name(st)) return st;
    throw std::runtime_error(fmt::format("outbox: unknown job state \"{}\"", name));
}

}  // namespace

Job read_job(const Stmt& s) {
    Job j;
    j.id = s.integer(0);
    j.queue_id = s.text(1);
    j.sender = s.text(2);
    j.rcpt = s.text(3);
    j.number = s.text(4);
    j.body = s.text(5);
    j.state = parse_state(s.text(6));
    j.attempts = static_cast<int>(s.integer(7));
    j.last_error = s.text(8);
    j.sid = s.text(9);
    j.check_first = s.integer(10) != 0;
    j.created = s.integer(11);
    j.next_attempt = s.integer(12);
    j.expires = s.integer(13);
    j.message_id = s.text(14);
    j.status = s.text(15);
    j.status_code = static_cast<int>(s.integer(16));
    j.next_poll = s.integer(17);
    j.polls = static_cast<int>(s.integer(18));
    j.sent_at = s.integer(19);
    j.sent_from = s.text(20);
    return j;
}

const char* state_name(JobState s) {
    switch (s) {
        case JobState::Queued:
            return "queued";
        case JobState::Sending:
            return "sending";
        case JobState::Sent:
            return "sent";
        case JobState::Deferred:
            return "deferred";
        case JobState::Failed:
            return "failed";
    }
    return "?";
}

Outbox::Outbox(const std::string& state_directory) {
    OutboxFiles files(state_directory);  // the directory 0700 and the files 0600
    const std::string& path = files.db_path();
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db_.reset(db);
    if (rc != SQLITE_OK)
        throw std::runtime_error(
            fmt::format("cannot open {}: {}", path, db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_busy_timeout(db, 5000);
    files.check(db);  // damaged, or not the outbox that was made here: refuse to start
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(kSchema);
    add_shared_storm_column();
    Stmt version(db, "PRAGMA user_version");
    std::int64_t found = version.step() ? version.integer(0) : 0;
    if (found > kSchemaVersion)
        throw std::runtime_error(
            fmt::format("{}: outbox schema version {} is newer than this program's {}", path, found,
                        kSchemaVersion));
    if (found < kSchemaVersion) migrate(found);  // also a new outbox (found 0)
    exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
    files.mark_created();
    // Outcomes that a power loss may lose harmlessly (see outbox.h) go through a second
    // connection that commits without an fsync; same mutex, so no lock waits between them.
    sqlite3* lazy = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &lazy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                         nullptr);
    unsynced_db_.reset(lazy);
    if (rc != SQLITE_OK)
        throw std::runtime_error(
            fmt::format("cannot open {}: {}", path, lazy ? sqlite3_errmsg(lazy) : "out of memory"));
    sqlite3_busy_timeout(lazy, 5000);
    if (sqlite3_exec(lazy, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-256", nullptr, nullptr,
                     nullptr) != SQLITE_OK)
        throw std::runtime_error(fmt::format("outbox: {}", sqlite3_errmsg(lazy)));
    statement_cache::adopt(db_.get());
    statement_cache::adopt(lazy);
}

void Outbox::Closer::operator()(sqlite3* db) const {
    statement_cache::forget(db);
    sqlite3_close_v2(db);
}

void Outbox::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw std::runtime_error(fmt::format("outbox: {}", msg));
    }
}

EnqueueResult Outbox::enqueue(const std::vector<NewJob>& jobs, std::chrono::seconds dedup_window,
                              std::chrono::seconds storm_window,
                              const BeforeVisible& before_visible) {
    return enqueue_group_.submit(EnqueueRequest{&jobs, dedup_window, storm_window, &before_visible},
                                 [this](std::vector<EnqueueGroup::Item*>& batch) {
                                     std::lock_guard lock(mutex_);
                                     enqueue_batch(batch);
                                 });
}

void Outbox::enqueue_batch(std::vector<EnqueueGroup::Item*>& batch) {
    exec("BEGIN IMMEDIATE");
    try {
        std::int64_t now = unix_now();
        for (auto* item : batch) {
            exec("SAVEPOINT message");
            try {
                item->result = insert_jobs(*item->request, now);
                exec("RELEASE message");
                // Under the outbox's lock: nothing can claim these jobs before the commit.
                if (*item->request->before_visible) (*item->request->before_visible)(*item->result);
            } catch (...) {
                item->error = std::current_exception();
                exec("ROLLBACK TO message");
                exec("RELEASE message");
            }
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        for (auto* item : batch) item->result.reset();  // nothing of it is durable
        throw;
    }
}

EnqueueResult Outbox::insert_jobs(const EnqueueRequest& request, std::int64_t now) {
    EnqueueResult result;
    Stmt(db_.get(), "DELETE FROM dedup WHERE created < ?1")
        .bind(1, now - request.dedup_window.count())
        .run();
    for (const auto& j : *request.jobs) {
        if (!j.dedup_key.empty()) {
            Stmt seen(db_.get(), "SELECT 1 FROM dedup WHERE key = ?1");
            if (seen.bind(1, j.dedup_key).step()) {
                result.ids.push_back(0);
                result.storm_of.push_back(0);
                ++result.duplicates;
                continue;
            }
        }
        bool storms = request.storm_window.count() > 0 && !j.storm_key.empty();
        auto role = j.shared_storm.role;
        std::int64_t first = 0;
        if (storms && role != SharedStorm::Role::First) first = hold_in_storm(j, now);
        if (storms && role == SharedStorm::Role::Held && first == 0) first = -1;  // elsewhere
        std::int64_t id = first == 0 ? insert_job(j, now) : 0;
        result.ids.push_back(id);
        result.storm_of.push_back(first);
        if (!j.dedup_key.empty())  // a resubmission of a held-back alert is a duplicate too
            Stmt(db_.get(), "INSERT INTO dedup (key, created, job_id) VALUES (?1, ?2, ?3)")
                .bind(1, j.dedup_key)
                .bind(2, now)
                .bind(3, id != 0 ? id : first)
                .run();
        if (id == 0) continue;
        if (storms) open_storm(j, id, now, request.storm_window);
        if (j.counted) count_sms(j, now);
    }
    return result;
}

std::int64_t Outbox::insert_job(const NewJob& j, std::int64_t now) {
    Stmt s(db_.get(),
           "INSERT INTO jobs (created, updated, queue_id, sender, rcpt, number, body, "
           "state, next_attempt, expires, message_id) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, "
           "'queued', ?1, ?7, ?8)");
    s.bind(1, now).bind(2, j.queue_id).bind(3, j.sender).bind(4, j.rcpt).bind(5, j.number);
    s.bind(6, j.body).bind(7, to_unix(j.expires)).bind(8, j.message_id).run();
    return sqlite3_last_insert_rowid(db_.get());
}

std::optional<Job> Outbox::claim_due() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(),
           fmt::format("UPDATE jobs SET state = 'sending', attempts = attempts + 1, updated = ?1 "
                       "WHERE id = (SELECT id FROM jobs WHERE state IN ('queued','deferred') "
                       "AND next_attempt <= ?1 ORDER BY next_attempt, id LIMIT 1) RETURNING {}",
                       kJobColumns));
    s.bind(1, unix_now());
    std::optional<Job> job;
    if (s.step()) job = read_job(s);
    s.run();
    return job;
}

std::vector<Job> Outbox::claim_due(std::size_t sends, std::size_t lookups) {
    std::lock_guard lock(mutex_);
    std::vector<Job> jobs;
    if (sends == 0 && lookups == 0) return jobs;
    exec("BEGIN IMMEDIATE");
    try {
        std::int64_t now = unix_now();
        for (auto [check_first, limit] : {std::pair{0, sends}, std::pair{1, lookups}}) {
            if (limit == 0) continue;
            Stmt s(db_.get(),
                   fmt::format("UPDATE jobs SET state = 'sending', attempts = attempts + 1, "
                               "updated = ?1 WHERE id IN (SELECT id FROM jobs WHERE state IN "
                               "('queued','deferred') AND next_attempt <= ?1 AND check_first = "
                               "?2 ORDER BY next_attempt, id LIMIT ?3) RETURNING {}",
                               kJobColumns));
            s.bind(1, now).bind(2, check_first).bind(3, static_cast<std::int64_t>(limit));
            while (s.step()) jobs.push_back(read_job(s));
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        return std::pair(a.next_attempt, a.id) < std::pair(b.next_attempt, b.id);
    });
    return jobs;
}

std::optional<Clock::time_point> Outbox::next_due(std::optional<bool> check_first) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(),
           check_first ? "SELECT MIN(next_attempt) FROM jobs WHERE state IN ('queued','deferred') "
                         "AND check_first = ?1"
                       : "SELECT MIN(next_attempt) FROM jobs WHERE state IN ('queued','deferred')");
    if (check_first) s.bind(1, *check_first ? 1 : 0);
    std::optional<std::int64_t> next;
    if (s.step() && !s.is_null(0)) next = s.integer(0);
    if (!check_first || !*check_first) {
        Stmt storm(db_.get(), "SELECT MIN(closes) FROM storms WHERE held > 0 OR shared_id != ''");
        if (storm.step() && !storm.is_null(0))
            next = next ? std::min(*next, storm.integer(0)) : storm.integer(0);
    }
    if (!next) return std::nullopt;
    return Clock::time_point(std::chrono::seconds(*next));
}

void Outbox::mark_sent(std::int64_t id, const std::string& sid, std::int64_t first_poll) {
    std::lock_guard lock(mutex_);
    Stmt(
        unsynced_db_.get(),
        "UPDATE jobs SET state = 'sent', sid = ?2, last_error = '', check_first = 0, updated = ?3, "
        "sent_at = ?3, next_poll = ?4, polls = 0, status = '' WHERE id = ?1")
        .bind(1, id)
        .bind(2, sid)
        .bind(3, unix_now())
        .bind(4, first_poll)
        .run();
}

void Outbox::mark_deferred(std::int64_t id, Clock::time_point next, const std::string& error,
                           bool check_first) {
    std::lock_guard lock(mutex_);
    Stmt(
        unsynced_db_.get(),
        "UPDATE jobs SET state = 'deferred', next_attempt = ?2, last_error = ?3, check_first = ?4, "
        "updated = ?5 WHERE id = ?1")
        .bind(1, id)
        .bind(2, to_unix(next))
        .bind(3, error)
        .bind(4, check_first ? 1 : 0)
        .bind(5, unix_now())
        .run();
}

void Outbox::mark_failed(std::int64_t id, const std::string& error) {
    std::lock_guard lock(mutex_);
    Stmt(db_.get(), "UPDATE jobs SET state = 'failed', last_error = ?2, updated = ?3 WHERE id = ?1")
        .bind(1, id)
        .bind(2, error)
        .bind(3, unix_now())
        .run();
}

int Outbox::recover_interrupted() {
    std::lock_guard lock(mutex_);
    return Stmt(db_.get(),
                "UPDATE jobs SET state = 'deferred', check_first = 1, next_attempt = ?1, updated = "
                "?1, "
                "last_error = 'interrupted while sending' WHERE state = 'sending'")
        .bind(1, unix_now())
        .run();
}

int Outbox::recover_stranded(const std::set<std::int64_t>& held) {
    std::lock_guard lock(mutex_);
    std::int64_t now = unix_now();
    std::vector<std::int64_t> stranded;
    {
        Stmt s(db_.get(), "SELECT id FROM jobs WHERE state = 'sending' AND updated < ?1");
        s.bind(1, now - 60);
        while (s.step())
            if (!held.count(s.integer(0))) stranded.push_back(s.integer(0));
    }
    for (auto id : stranded)
        Stmt(db_.get(),
             "UPDATE jobs SET state = 'deferred', check_first = 1, next_attempt = ?2, updated = "
             "?2, last_error = 'left sending after a failed state write' WHERE id = ?1 AND "
             "state = 'sending'")
            .bind(1, id)
            .bind(2, now)
            .run();
    return static_cast<int>(stranded.size());
}

std::vector<Job> Outbox::list(std::size_t limit) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), fmt::format("SELECT {} FROM jobs ORDER BY id DESC LIMIT ?1", kJobColumns));
    s.bind(1, static_cast<std::int64_t>(limit));
    std::vector<Job> jobs;
    while (s.step()) jobs.push_back(read_job(s));
    return jobs;
}

std::optional<Job> Outbox::get(std::int64_t id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), fmt::format("SELECT {} FROM jobs WHERE id = ?1", kJobColumns));
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_job(s);
}

bool Outbox::retry_now(std::int64_t id) {
    std::lock_guard lock(mutex_);
    return Stmt(db_.get(),
                "UPDATE jobs SET state = 'deferred', next_attempt = ?2, updated = ?2 "
                "WHERE id = ?1 AND state IN ('deferred','failed')")
               .bind(1, id)
               .bind(2, unix_now())
               .run() == 1;
}

bool Outbox::drop(std::int64_t id) {
    std::lock_guard lock(mutex_);
    return Stmt(db_.get(), "DELETE FROM jobs WHERE id = ?1 AND state != 'sending'")
               .bind(1, id)
               .run() == 1;
}

std::map<std::string, std::int64_t> Outbox::count_by_state() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT state, COUNT(*) FROM jobs GROUP BY state");
    std::map<std::string, std::int64_t> counts;
    while (s.step()) counts[s.text(0)] = s.integer(1);
    return counts;
}

int Outbox::purge_finished(Clock::time_point cutoff) {
    std::lock_guard lock(mutex_);
    // Rate counts live at most a week (RateLimiter::kLongestPeriod).
    Stmt(db_.get(), "DELETE FROM rate_events WHERE at < ?1").bind(1, unix_now() - 7 * 86400).run();
    Stmt(db_.get(), "DELETE FROM replies WHERE at < ?1").bind(1, unix_now() - 30 * 86400).run();
    Stmt(db_.get(),
         "DELETE FROM lookup_misses WHERE job_id NOT IN (SELECT id FROM jobs WHERE state IN "
         "('queued','sending','deferred'))")
        .run();
    return Stmt(db_.get(),
                "DELETE FROM jobs WHERE state IN ('sent','failed') AND updated < ?1 AND "
                "next_poll = 0")
        .bind(1, to_unix(cutoff))
        .run();
}

}  // namespace smsm
