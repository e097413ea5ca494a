// The outbox's part in the lookup before a resend: the SIDs other jobs hold, and when a
// lookup first missed a job's message (outbox.h). Misses go through the unsynced connection:
// a power loss that loses one only costs another lookup.
#include "shared/outbox/outbox.h"
#include "shared/outbox/outbox_sql.h"

namespace smsm {

std::set<std::string> Outbox::sids_of_other_jobs(std::int64_t id, const std::string& number) {
    std::lock_guard lock(mutex_);
    Stmt s(db_.get(), "SELECT sid FROM jobs WHERE number = ?1 AND id != ?2 AND sid != ''");
    s.bind(1, number).bind(2, id);
    std::set<std::string> sids;
    while (s.step()) sids.insert(s.text(0));
    return sids;
}

Clock::time_point Outbox::note_lookup_miss(std::int64_t id, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    Stmt(unsynced_db_.get(),
         "INSERT OR IGNORE INTO lookup_misses (job_id, first_miss) VALUES (?1, ?2)")
        .bind(1, id)
        .bind(2, to_unix(now))
        .run();
    Stmt s(unsynced_db_.get(), "SELECT first_miss FROM lookup_misses WHERE job_id = ?1");
    s.bind(1, id);
    std::int64_t first = s.step() ? s.integer(0) : to_unix(now);
    return Clock::time_point(std::chrono::seconds(first));
}

void Outbox::forget_lookup_misses(std::int64_t id) {
    std::lock_guard lock(mutex_);
    Stmt(unsynced_db_.get(), "DELETE FROM lookup_misses WHERE job_id = ?1").bind(1, id).run();
}

}  // namespace smsm
