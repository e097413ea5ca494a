// SharedState on Redis; see redis_state.h and redis_scripts.h.
#include "shared/shared_state/redis_state.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/policy/address.h"
#include "shared/shared_state/redis_scripts.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxIdle = 8;  // pooled connections kept open
constexpr auto kFirstBackoff = std::chrono::seconds(1);
constexpr auto kLongestBackoff = std::chrono::seconds(30);
constexpr auto kWarnEvery = std::chrono::seconds(60);
constexpr int kPendingSeconds = 60;  // a relay that dies while queueing blocks a retry this long

std::string text_of(const redisReply* r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
               ? std::string(r->str, r->len)
               : std::string();
}

std::int64_t integer_of(const redisReply* r) {
    if (r && r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r && r->type == REDIS_REPLY_STRING) return std::stoll(std::string(r->str, r->len));
    throw RedisError("unexpected reply");
}

// An error reply (a script that failed, OOM, NOAUTH) is a failure like a lost connection.
const redisReply* checked(const RedisReply& r) {
    if (r->type == REDIS_REPLY_ERROR)
        throw RedisError(fmt::format("Redis: {}", std::string(r->str, r->len).substr(0, 200)));
    return r.get();
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "relay";
    return buf;
}

std::string dup_key(const NewJob& j) {
    return j.dedup_key.empty() ? "" : "smsm:dup:" + j.dedup_key;
}
std::string storm_key_of(const NewJob& j) {
    return j.storm_key.empty() ? "" : "smsm:storm:" + j.storm_key;
}

}  // namespace

RedisState::RedisState(RedisEndpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      relay_(fmt::format("{}.{}", host_name(), ::getpid())) {}

RedisState::~RedisState() = default;

std::string RedisState::fresh_id() {
    return fmt::format("{}.{}.{}", relay_, unix_now(), ++seq_);
}

SharedStatus RedisState::status() {
    std::lock_guard lock(mutex_);
    if (!down_) return SharedStatus::Shared;
    // Down, but due for a reconnect: let the next call try it.
    return std::chrono::steady_clock::now() >= retry_at_ && !probing_ ? SharedStatus::Shared
                                                                      : SharedStatus::Unavailable;
}

std::unique_ptr<RedisConn> RedisState::borrow() {
    {
        std::lock_guard lock(mutex_);
        if (down_) {
            if (probing_ || std::chrono::steady_clock::now() < retry_at_) {
                ++local_answers_;
                throw RedisError("unreachable (waiting to reconnect)");
            }
            probing_ = true;  // this caller tries; the others keep answering at once
        } else if (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            return conn;
        }
    }
    try {
        return std::make_unique<RedisConn>(endpoint_, std::chrono::steady_clock::now() + timeout_);
    } catch (const RedisError& e) {
        went_down(e.what());
        throw;
    }
}

void RedisState::give_back(std::unique_ptr<RedisConn> conn) {
    std::lock_guard lock(mutex_);
    if (down_) {
        log::info(
            "shared_state: {} is reachable again: rate limits, duplicates and storm windows "
            "are shared again ({} call(s) were answered without it)",
            endpoint_.url.str(), local_answers_);
        down_ = probing_ = false;
        backoff_ = std::chrono::milliseconds(0);
        local_answers_ = 0;
    }
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
}

void RedisState::went_down(const std::string& why) {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    bool was_down = down_;
    down_ = true;
    probing_ = false;
    idle_.clear();  // they lead to the same Redis: reconnect from scratch
    backoff_ = backoff_.count() == 0
                   ? std::chrono::duration_cast<std::chrono::milliseconds>(kFirstBackoff)
                   : std::min<std::chrono::milliseconds>(backoff_ * 2, kLongestBackoff);
    retry_at_ = now + backoff_;
    ++local_answers_;
    if (!was_down || now - last_warning_ >= kWarnEvery) {
        log::warning(
            "shared_state: {} unreachable ({}): rate limits, duplicate detection and storm "
            "windows are this relay's own, or SMS mail gets 451 4.3.0, as shared_state_failure "
            "says ({} call(s) without it so far); next attempt in {} ms",
            endpoint_.url.str(), why, local_answers_, backoff_.count());
        last_warning_ = now;
    }
}

std::vector<RedisReply> RedisState::run(const std::vector<RedisCommand>& cmds) {
    auto conn = borrow();
    try {
        auto replies = conn->run(cmds, std::chrono::steady_clock::now() + timeout_);
        give_back(std::move(conn));
        return replies;
    } catch (const RedisError& e) {
        went_down(e.what());
        throw;
    }
}

SharedReservation RedisState::reserve(const Config& cfg, std::string_view sender,
                                      const std::vector<std::string>& numbers, std::int64_t now) {
    SharedReservation out;
    out.status = SharedStatus::Shared;
    if (numbers.empty()) return out;
    struct Counter {
        LimitKind kind;
        std::string key;
        const RateLimit* limit;
        std::string indexes;
    };
    std::vector<Counter> counters;
    std::string all;
    for (std::size_t i = 0; i < numbers.size(); ++i)
        all += fmt::format("{}{}", i ? "," : "", i + 1);
    if (cfg.global_rate_limit.on())
        counters.push_back({LimitKind::Global, "smsm:rate:g", &cfg.global_rate_limit, all});
    if (cfg.sender_rate_limit.on())
        counters.push_back({LimitKind::Sender, "smsm:rate:s:" + rate_sender_key(sender),
                            &cfg.sender_rate_limit, all});
    if (cfg.destination_rate_limit.on()) {
        for (std::size_t i = 0; i < numbers.size(); ++i) {
            std::string key = "smsm:rate:d:" + numbers[i];
            auto it = std::find_if(counters.begin(), counters.end(),
                                   [&](const Counter& c) { return c.key == key; });
            if (it == counters.end())
                counters.push_back({LimitKind::Destination, key, &cfg.destination_rate_limit, ""});
            it = std::find_if(counters.begin(), counters.end(),
                              [&](const Counter& c) { return c.key == key; });
            it->indexes += fmt::format("{}{}", it->indexes.empty() ? "" : ",", i + 1);
        }
    }
    std::string prefix = fresh_id();
    for (std::size_t i = 0; i < numbers.size(); ++i)
        out.handles.push_back(fmt::format("{}:{}", prefix, i + 1));
    if (counters.empty()) return out;
    RedisCommand cmd{"EVAL", redis_scripts::kReserve, std::to_string(counters.size())};
    for (const auto& c : counters) cmd.push_back(c.key);
    cmd.push_back(std::to_string(now));
    cmd.push_back(prefix);
    for (const auto& c : counters) {
        cmd.push_back(std::to_string(c.limit->count));
        cmd.push_back(std::to_string(c.limit->period.count()));
        cmd.push_back(c.indexes);
    }
    std::int64_t refused = 0;
    try {
        auto replies = run({cmd});
        refused = integer_of(checked(replies.front()));
    } catch (const RedisError&) {
        return {SharedStatus::Unavailable, std::nullopt, {}};
    }
    if (refused > 0 && static_cast<std::size_t>(refused) <= counters.size()) {
        const Counter& c = counters[static_cast<std::size_t>(refused - 1)];
        out.hit = LimitHit{c.kind, *c.limit};
        out.handles.clear();
    }
    return out;
}

void RedisState::release(std::string_view sender, std::string_view number,
                         const std::string& handle) {
    if (handle.empty()) return;
    try {
        run({{"ZREM", "smsm:rate:g", handle},
             {"ZREM", "smsm:rate:s:" + rate_sender_key(sender), handle},
             {"ZREM", "smsm:rate:d:" + std::string(number), handle}});
    } catch (const RedisError&) {
        // Logged by went_down(); the reservation counts until its period has passed.
    }
}

std::vector<SharedClaim> RedisState::claim(const Config& cfg, const std::vector<NewJob>& jobs,
                                           std::int64_t now) {
    std::vector<SharedClaim> out(jobs.size());
    bool any = std::any_of(jobs.begin(), jobs.end(), [&](const NewJob& j) {
        return !j.dedup_key.empty() || (!j.storm_key.empty() && cfg.storm_window.count() > 0);
    });
    if (!any) return out;
    std::string id = fresh_id();
    std::string mark = "pending " + id;
    RedisCommand cmd{"EVAL", redis_scripts::kClaim, std::to_string(jobs.size() * 2)};
    for (const auto& j : jobs) {
        cmd.push_back(dup_key(j));
        cmd.push_back(cfg.storm_window.count() > 0 ? storm_key_of(j) : "");
    }
    for (auto arg :
         {std::to_string(now), std::to_string(cfg.storm_window.count()), mark,
          std::to_string(kPendingSeconds), std::to_string(cfg.duplicate_window.count()), id})
        cmd.push_back(arg);
    auto replies = run({cmd});
    const redisReply* r = checked(replies.front());
    if (r->type != REDIS_REPLY_ARRAY || r->elements != jobs.size())
        throw RedisError("unexpected reply to the claim script");
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const redisReply* e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 4)
            throw RedisError("unexpected reply to the claim script");
        std::string d = text_of(e->element[0]), s = text_of(e->element[1]);
        SharedClaim& c = out[i];
        c.dedup = d == "owned"     ? SharedClaim::Dedup::Owned
                  : d == "queued"  ? SharedClaim::Dedup::Duplicate
                  : d == "pending" ? SharedClaim::Dedup::Pending
                                   : SharedClaim::Dedup::None;
        if (c.dedup == SharedClaim::Dedup::Owned) c.mark = mark;
        if (s == "first" || s == "held") {
            c.storm.role = s == "first" ? SharedStorm::Role::First : SharedStorm::Role::Held;
            c.storm.id = text_of(e->element[2]);
            c.storm.closes = std::stoll(text_of(e->element[3]));
        }
    }
    return out;
}

void RedisState::settle(const Config& cfg, const std::vector<NewJob>& jobs,
                        const std::vector<SharedClaim>& claims, const EnqueueResult* queued) {
    std::vector<RedisCommand> cmds;
    for (std::size_t i = 0; i < jobs.size() && i < claims.size(); ++i) {
        const SharedClaim& c = claims[i];
        bool kept = queued && i < queued->ids.size();
        bool inserted = kept && queued->ids[i] != 0;
        // Queued, held back or a duplicate of this outbox: the message counts as seen.
        if (kept && c.dedup == SharedClaim::Dedup::Owned)
            cmds.push_back(
                {"SET", dup_key(jobs[i]), "queued", "EX",
                 std::to_string(std::max<std::int64_t>(cfg.duplicate_window.count(), 1))});
        // Not queued after all: a storm it opened would hold alerts nobody sums up.
        bool undo_storm = !kept || (c.storm.role == SharedStorm::Role::First && !inserted);
        bool undo_dup = !kept && c.dedup == SharedClaim::Dedup::Owned;
        if (undo_dup || (undo_storm && c.storm.role != SharedStorm::Role::Local)) {
            const char* role = !undo_storm                                ? ""
                               : c.storm.role == SharedStorm::Role::First ? "first"
                                                                          : "held";
            cmds.push_back({"EVAL", redis_scripts::kUndo, "2", undo_dup ? dup_key(jobs[i]) : "",
                            storm_key_of(jobs[i]), c.mark, role, c.storm.id});
        }
    }
    if (cmds.empty()) return;
    try {
        for (const auto& r : run(cmds)) checked(r);
    } catch (const RedisError& e) {
        log::warning("shared_state: cannot record the outcome of end of message: {}", e.what());
    }
}

std::map<std::string, std::int64_t> RedisState::take_storm_held(
    const std::vector<std::string>& ids) {
    std::map<std::string, std::int64_t> out;
    if (ids.empty()) return out;
    RedisCommand cmd{"EVAL", redis_scripts::kTakeHeld, "0"};
    cmd.insert(cmd.end(), ids.begin(), ids.end());
    try {
        auto replies = run({cmd});
        const redisReply* r = checked(replies.front());
        if (r->type != REDIS_REPLY_ARRAY || r->elements != ids.size())
            throw RedisError("unexpected reply to the storm script");
        for (std::size_t i = 0; i < ids.size(); ++i) out[ids[i]] = integer_of(r->element[i]);
    } catch (const RedisError& e) {
        log::warning(
            "shared_state: cannot read the alerts other relays held back in {} storm(s): {}; "
            "their summaries count this relay's only",
            ids.size(), e.what());
        out.clear();
    }
    return out;
}

std::unique_ptr<SharedState> make_shared_state(const Config& cfg) {
    if (cfg.shared_state.empty()) return std::make_unique<LocalState>();
    auto url = parse_redis_url(cfg.shared_state);
    if (!url) throw std::runtime_error("shared_state: not a redis:// or rediss:// URL");
    return std::make_unique<RedisState>(
        make_redis_endpoint(*url, cfg.shared_state_password, cfg.shared_state_ca_file),
        cfg.shared_state_timeout);
}

}  // namespace smsm
