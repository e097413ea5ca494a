// What a metrics scrape reads from the outbox: the jobs waiting to be sent by state and the
// age of the oldest one, through a read-only SQLite connection of its own (WAL: it never
// waits for, nor holds up, the milter's and the sender's writes, and never takes the
// Outbox's mutex). The queries touch only the waiting jobs (the jobs_due index), never the
// sent and failed ones kept for outbox_retention.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "shared/metrics/metrics.h"

struct sqlite3;

namespace smsm {

class OutboxGauges {
  public:
    explicit OutboxGauges(std::string state_directory);
    ~OutboxGauges();
    // From any thread, one at a time; readable = false when the outbox cannot be read.
    metrics::OutboxGauges read();

  private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    std::string path_;
    std::mutex mutex_;
    std::unique_ptr<sqlite3, Closer> db_;  // opened on first use, again after a failure
};

}  // namespace smsm
