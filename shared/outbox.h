// The durable outbox: one SQLite row per SMS job, committed (WAL, synchronous=FULL) before
// the milter answers end of message. States: queued -> sending -> sent | deferred | failed.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace smsm {

using Clock = std::chrono::system_clock;

struct NewJob {
    std::string queue_id;
    std::string sender;
    std::string rcpt;    // the RCPT argument as received
    std::string number;  // E.164
    std::string body;    // SMS text
};

struct Job {
    std::int64_t id = 0;
    std::string queue_id;
    std::string sender;
    std::string rcpt;
    std::string number;
    std::string body;
    std::string state;
    int attempts = 0;
    std::string last_error;
    std::string sid;
};

class Outbox {
  public:
    // Opens (creating if needed) STATE_DIRECTORY/outbox.db. Throws std::runtime_error.
    explicit Outbox(const std::string& state_directory);

    // All jobs of one message in one transaction; throws when it cannot commit.
    std::vector<std::int64_t> enqueue(const std::vector<NewJob>& jobs);

    // Takes the next due job (queued, or deferred with its time come) and marks it sending.
    std::optional<Job> claim_due();
    // When the next deferred job falls due, if any.
    std::optional<Clock::time_point> next_due();

    void mark_sent(std::int64_t id, const std::string& sid);
    void mark_deferred(std::int64_t id, Clock::time_point next, const std::string& error);
    void mark_failed(std::int64_t id, const std::string& error);

    // Jobs left in `sending` by a crash; their outcome is unknown.
    std::vector<Job> interrupted();

  private:
    struct Closer {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    void exec(const char* sql);
    std::mutex mutex_;
    std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace smsm
