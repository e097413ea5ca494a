// The outbox as a metrics scrape sees it; see outbox_gauges.h.
#include "shared/outbox/outbox_gauges.h"

#include "shared/outbox/outbox_sql.h"

namespace smsm {

namespace {
constexpr int kBusyMs = 1000;  // a scrape gives up rather than wait long
}

void OutboxGauges::Closer::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

OutboxGauges::OutboxGauges(std::string state_directory)
    : path_(std::move(state_directory) + "/outbox.db") {}

OutboxGauges::~OutboxGauges() = default;

metrics::OutboxGauges OutboxGauges::read() {
    std::lock_guard lock(mutex_);
    metrics::OutboxGauges g;
    try {
        if (!db_) {
            sqlite3* raw = nullptr;
            int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
            db_.reset(raw);
            if (rc != SQLITE_OK) {
                db_.reset();
                return g;
            }
            sqlite3_busy_timeout(raw, kBusyMs);
        }
        Stmt counts(db_.get(),
                    "SELECT state, COUNT(*), MIN(created) FROM jobs "
                    "WHERE state IN ('queued','sending','deferred') GROUP BY state");
        while (counts.step()) {
            std::string state = counts.text(0);
            std::int64_t n = counts.integer(1);
            (state == "queued" ? g.queued : state == "sending" ? g.sending : g.deferred) = n;
            std::int64_t oldest = counts.integer(2);
            if (!g.oldest_created || oldest < *g.oldest_created) g.oldest_created = oldest;
        }
        g.readable = true;
    } catch (const std::exception&) {
        db_.reset();  // open again next time
    }
    return g;
}

}  // namespace smsm
