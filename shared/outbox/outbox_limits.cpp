// The outbox's part in storm_window and the rate limits: storms (the first job of a sender,
// number and text, and the alerts held back after it, until its window closes) and
// rate_events (the SMS counted against the rate limits, for their counts after a restart).
// Everything here runs inside the outbox's transactions, so a held-back alert is durable
// exactly when a queued one would be.
#include <fmt/format.h>

#include <memory>

#include "shared/outbox/outbox.h"
#include "shared/outbox/outbox_sql.h"

namespace smsm {

std::int64_t Outbox::hold_in_storm(const NewJob& j, std::int64_t now) {
    Stmt open(db_.get(),
              "UPDATE storms SET held = held + 1, sample = ?3 WHERE id = (SELECT id FROM storms "
              "WHERE key = ?1 AND closes > ?2 ORDER BY closes DESC LIMIT 1) RETURNING first_job");
    open.bind(1, j.storm_key).bind(2, now).bind(3, j.storm_sample);
    std::int64_t first = open.step() ? open.integer(0) : 0;
    open.run();
    return first;
}

void Outbox::open_storm(const NewJob& j, std::int64_t job_id, std::int64_t now,
                        std::chrono::seconds window) {
    // A shared storm closes when the shared store says, for every relay alike.
    bool shared = j.shared_storm.role == SharedStorm::Role::First;
    Stmt s(db_.get(),
           "INSERT INTO storms (key, first_job, queue_id, sender, rcpt, number, window, closes, "
           "expires, shared_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    s.bind(1, j.storm_key).bind(2, job_id).bind(3, j.queue_id).bind(4, j.sender).bind(5, j.rcpt);
    s.bind(6, j.number).bind(7, window.count());
    s.bind(8, shared ? j.shared_storm.closes : now + window.count());
    s.bind(9, to_unix(j.expires)).bind(10, shared ? j.shared_storm.id : std::string());
    s.run();
}

// Outboxes made before storms were shared lack the column.
void Outbox::add_shared_storm_column() {
    Stmt cols(db_.get(), "SELECT 1 FROM pragma_table_info('storms') WHERE name = 'shared_id'");
    if (!cols.step()) exec("ALTER TABLE storms ADD COLUMN shared_id TEXT NOT NULL DEFAULT ''");
}

std::vector<std::string> Outbox::closed_shared_storms() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT shared_id FROM storms WHERE closes <= ?1 AND shared_id != ''");
    s.bind(1, unix_now());
    std::vector<std::string> ids;
    while (s.step()) ids.push_back(s.text(0));
    return ids;
}

void Outbox::count_sms(const NewJob& j, std::int64_t now) {
    Stmt(db_.get(), "INSERT INTO rate_events (at, sender, number) VALUES (?1, ?2, ?3)")
        .bind(1, now)
        .bind(2, j.sender)
        .bind(3, j.number)
        .run();
}

std::vector<StormSummary> Outbox::close_storms(
    const StormText& summary, const std::map<std::string, std::int64_t>& shared_held) {
    std::lock_guard lock(mutex_);
    std::vector<StormSummary> out;
    std::int64_t now = unix_now();
    {
        Stmt due(db_.get(), "SELECT 1 FROM storms WHERE closes <= ?1 LIMIT 1");
        if (!due.bind(1, now).step()) return out;
    }
    exec("BEGIN IMMEDIATE");
    try {
        Stmt s(db_.get(),
               "DELETE FROM storms WHERE closes <= ?1 RETURNING first_job, held, queue_id, sender, "
               "rcpt, number, window, expires, sample, shared_id");
        s.bind(1, now);
        std::vector<std::pair<StormSummary, NewJob>> closed;
        while (s.step()) {
            std::int64_t held = s.integer(1);
            if (auto it = shared_held.find(s.text(9)); it != shared_held.end()) held = it->second;
            if (held == 0) continue;  // nothing held back: nothing to say
            StormSummary sum{s.integer(0), 0, held, s.text(2), s.text(3), s.text(5)};
            NewJob job;
            job.queue_id = sum.queue_id;
            job.sender = sum.sender;
            job.rcpt = s.text(4);
            job.number = sum.number;
            job.body = summary(sum.held, s.integer(6), s.text(8));
            job.expires = Clock::time_point(std::chrono::seconds(s.integer(7)));
            closed.emplace_back(std::move(sum), std::move(job));
        }
        for (auto& [sum, job] : closed) {
            sum.job = insert_job(job, now);
            out.push_back(std::move(sum));
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    return out;
}

Outbox::StormCounts Outbox::storm_counts() {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT COUNT(*), COALESCE(SUM(held), 0) FROM storms WHERE closes > ?1");
    s.bind(1, unix_now()).step();
    return {s.integer(0), s.integer(1)};
}

std::vector<CountedSms> Outbox::counted_since(std::int64_t since) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT at, sender, number FROM rate_events WHERE at >= ?1 ORDER BY at");
    s.bind(1, since);
    std::vector<CountedSms> out;
    while (s.step()) out.push_back({s.integer(0), s.text(1), s.text(2)});
    return out;
}

std::optional<LimitsSnapshot> read_limits_snapshot(const std::string& state_directory,
                                                   std::int64_t since) {
    std::string path = state_directory + "/outbox.db";
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db(raw, &sqlite3_close_v2);
    if (rc != SQLITE_OK) return std::nullopt;
    sqlite3_busy_timeout(db.get(), 2000);
    try {
        LimitsSnapshot snap;
        Stmt counted(db.get(),
                     "SELECT at, sender, number FROM rate_events WHERE at >= ?1 ORDER BY at");
        counted.bind(1, since);
        while (counted.step())
            snap.counted.push_back({counted.integer(0), counted.text(1), counted.text(2)});
        Stmt storms(db.get(), "SELECT key, first_job, held, closes FROM storms WHERE closes > ?1");
        storms.bind(1, unix_now());
        while (storms.step())
            snap.storms.push_back(
                {storms.text(0), storms.integer(1), storms.integer(2), storms.integer(3)});
        return snap;
    } catch (const std::exception&) {
        return std::nullopt;  // an outbox from before these tables, or unreadable
    }
}

}  // namespace smsm
