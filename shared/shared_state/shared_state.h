// What several relays share (SPEC §10): rate-limit counters, duplicate keys and storm windows.
// The interface lets the session and the sender ask the same questions whether the answer is
// this relay's alone (LocalState: the RateLimiter and the outbox decide, as before) or the
// pair's (RedisState, redis_state.h). The SQLite outbox stays the source of truth for jobs;
// what is shared only decides whether a job is made, held back in a storm or refused.
//
// Failure classes and their outcomes (shared_state_failure): while the shared store cannot be
// reached, `local` answers every question with Local (per-relay state, a rate-limited warning
// in the log), `tempfail` makes RCPT and end of message answer 451 4.3.0.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/rate_limit.h"

namespace smsm {

// The shared store cannot be reached (RedisError is one).
struct SharedUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class SharedStatus {
    Local,        // not shared (LocalState): the relay's own state decides
    Shared,       // answered by the shared store
    Unavailable,  // the shared store cannot be reached now
};

// RCPT: one SMS from a sender to each number, reserved across the relays.
struct SharedReservation {
    SharedStatus status = SharedStatus::Local;
    std::optional<LimitHit> hit;       // Shared: the limit that refused; nothing reserved
    std::vector<std::string> handles;  // Shared and reserved: one per number, for release()
};

// End of message: what the shared store says of one job.
struct SharedClaim {
    enum class Dedup {
        None,       // no dedup key, or not shared
        Owned,      // first seen: this relay queues it (settle() records it)
        Duplicate,  // queued before within duplicate_window, here or on another relay
        Pending,    // another relay is queueing the same message right now: answer 451
    };
    Dedup dedup = Dedup::None;
    SharedStorm storm;  // the job's storm role, copied into NewJob::shared_storm
    std::string mark;   // Owned: this relay's pending mark, for settle()
};

class SharedState {
  public:
    virtual ~SharedState() = default;
    virtual SharedStatus status() = 0;  // Unavailable while known to be unreachable

    // Unavailable (nothing reserved) when the shared store cannot be reached.
    virtual SharedReservation reserve(const Config& cfg, std::string_view sender,
                                      const std::vector<std::string>& numbers,
                                      std::int64_t now) = 0;
    // A reserved SMS that was not queued; the SMS that were queued keep their reservation,
    // which counts until its period has passed.
    virtual void release(std::string_view sender, std::string_view number,
                         const std::string& handle) = 0;

    // Before the jobs go to the outbox: their dedup and storm answers, one per job. Throws
    // SharedUnavailable when the shared store cannot be reached.
    virtual std::vector<SharedClaim> claim(const Config& cfg, const std::vector<NewJob>& jobs,
                                           std::int64_t now) = 0;
    // After: `queued` null when the outbox could not commit (the claims are undone, so the
    // client's retry is not taken for a duplicate), else what it did with each job. Never
    // throws: a failure here is logged.
    virtual void settle(const Config& cfg, const std::vector<NewJob>& jobs,
                        const std::vector<SharedClaim>& claims, const EnqueueResult* queued) = 0;

    // When a storm this relay owns closes: the alerts every relay held back in it, by shared
    // storm id, each taken once; storms the store cannot say are missing from the map.
    virtual std::map<std::string, std::int64_t> take_storm_held(
        const std::vector<std::string>& ids) = 0;
};

// The per-relay answers: nothing is shared.
class LocalState final : public SharedState {
  public:
    SharedStatus status() override { return SharedStatus::Local; }
    SharedReservation reserve(const Config&, std::string_view, const std::vector<std::string>&,
                              std::int64_t) override {
        return {};
    }
    void release(std::string_view, std::string_view, const std::string&) override {}
    std::vector<SharedClaim> claim(const Config&, const std::vector<NewJob>& jobs,
                                   std::int64_t) override {
        return std::vector<SharedClaim>(jobs.size());
    }
    void settle(const Config&, const std::vector<NewJob>&, const std::vector<SharedClaim>&,
                const EnqueueResult*) override {}
    std::map<std::string, std::int64_t> take_storm_held(const std::vector<std::string>&) override {
        return {};
    }
};

// The state the config asks for: LocalState without shared_state, else a RedisState (its
// address looked up now). Throws std::runtime_error.
std::unique_ptr<SharedState> make_shared_state(const Config& cfg);

}  // namespace smsm
