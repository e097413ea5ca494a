// SharedState on Redis (shared_state = redis://...). Every call borrows a connection from a
// small pool and is bounded by shared_state_timeout (connect, TLS and command each), so a slow
// or dead Redis costs a milter callback at most that much. After a failure the store counts as
// down: calls answer Unavailable at once, and only one caller at a time tries to reconnect,
// after a backoff that doubles from 1 s to 30 s, so a dead Redis sees no reconnect storm from
// the worker threads. The warning that the relay runs on its own state is logged when Redis
// goes away, then at most once a minute while it stays away, and once when it is back.
//
// Keys (all under "smsm:", in the URL's database; a single Redis, not a Redis Cluster):
//   smsm:rate:g, smsm:rate:s:SENDER, smsm:rate:d:NUMBER   sorted sets, one member per SMS
//                                                         counted, scored by its time
//   smsm:dup:KEY                                          "pending RELAY" while a relay
//                                                         queues, then "queued", expiring
//                                                         after duplicate_window
//   smsm:storm:KEY                                        hash: the open storm's id, closes
//   smsm:held:ID                                          alerts held back in storm ID
// KEY is the SHA-256 the outbox uses (session.cpp), so no text or number appears in them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "shared/shared_state/redis_conn.h"
#include "shared/shared_state/shared_state.h"

namespace smsm {

class RedisState final : public SharedState {
  public:
    RedisState(RedisEndpoint endpoint, std::chrono::milliseconds timeout);
    ~RedisState() override;

    SharedStatus status() override;
    SharedReservation reserve(const Config& cfg, std::string_view sender,
                              const std::vector<std::string>& numbers, std::int64_t now) override;
    void release(std::string_view sender, std::string_view number,
                 const std::string& handle) override;
    std::vector<SharedClaim> claim(const Config& cfg, const std::vector<NewJob>& jobs,
                                   std::int64_t now) override;
    void settle(const Config& cfg, const std::vector<NewJob>& jobs,
                const std::vector<SharedClaim>& claims, const EnqueueResult* queued) override;
    std::map<std::string, std::int64_t> take_storm_held(
        const std::vector<std::string>& ids) override;

  private:
    // Runs the commands on a pooled connection; throws RedisError (and marks the store
    // down) when Redis cannot answer within the timeout, or at once while it is down.
    std::vector<RedisReply> run(const std::vector<RedisCommand>& cmds);
    std::unique_ptr<RedisConn> borrow();
    void give_back(std::unique_ptr<RedisConn> conn);
    void went_down(const std::string& why);
    std::string fresh_id();  // unique across relays and calls

    RedisEndpoint endpoint_;
    std::chrono::milliseconds timeout_;
    std::string relay_;  // host name and pid, in the ids and pending marks
    std::atomic<std::uint64_t> seq_{0};

    std::mutex mutex_;
    std::vector<std::unique_ptr<RedisConn>> idle_;
    bool down_ = false;
    bool probing_ = false;  // one caller is reconnecting
    std::chrono::steady_clock::time_point retry_at_{};
    std::chrono::milliseconds backoff_{0};
    std::chrono::steady_clock::time_point last_warning_{};
    std::uint64_t local_answers_ = 0;  // calls answered without Redis since the last warning
};

}  // namespace smsm
