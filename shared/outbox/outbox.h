// The durable outbox: one SQLite row per SMS job, committed (WAL, synchronous=FULL) before
// the milter answers end of message. States:
//
//   queued -> sending -> sent
//                     -> deferred -> sending ...   (retry, or check Twilio first)
//                     -> failed                    (permanent, expired, or dropped policy)
//
// A job whose request may have reached Twilio (5xx, timeout, crash while sending) is deferred
// with check_first set: the sender looks it up in Twilio's message list before any resend.
//
// Durability: new jobs, claims (`sending`) and `failed` are fsync'd before the call returns.
// `sent` and `deferred` are committed without an fsync of their own (a second connection
// with synchronous=NORMAL; the next fsync'd commit carries them to disk): a process crash
// loses nothing, and what a power loss can lose leaves the job `sending`, which the next
// start turns into a lookup at Twilio before any resend (found: sent; not found: sent again).
// The dedup table remembers which (sender, recipient, Message-ID, text) were queued recently.
// rate_events holds one row per SMS counted against the rate limits (shared/policy/
// rate_limit.h), for their counts after a restart. A storm is the first job of a
// (sender, number, text) with the alerts held back after it (outbox_limits.cpp).
// lookup_misses remembers when a lookup first did not find a job's message at Twilio: it is
// resent only after a second miss lookup_recheck_time later (outbox_lookup.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shared/outbox/group_commit.h"

struct sqlite3;  // <sqlite3.h> stays with the outbox's own files

namespace smsm {

using Clock = std::chrono::system_clock;

// A storm window decided by the relays' shared state (shared/shared_state/); Local: by this
// outbox alone.
struct SharedStorm {
    enum class Role { Local, First, Held } role = Role::Local;
    std::string id;           // the shared storm (First: the one this job opens)
    std::int64_t closes = 0;  // unix seconds, when it closes for every relay
};

struct NewJob {
    std::string queue_id;
    std::string sender;
    std::string rcpt;             // the RCPT argument as received
    std::string number;           // E.164
    std::string body;             // SMS text
    std::string dedup_key;        // empty: no deduplication
    Clock::time_point expires{};  // end of the queue lifetime
    std::string storm_key{};      // empty: not subject to storm_window
    std::string storm_sample{};   // the start of the text, for a storm's summary
    bool counted = true;          // counts against the rate limits (a rate_events row)
    SharedStorm shared_storm{};   // First: opens a storm here; Held: held back, not queued
    std::string message_id{};     // the mail's Message-ID, for In-Reply-To of a reply
};

enum class JobState { Queued, Sending, Sent, Deferred, Failed };
const char* state_name(JobState s);  // "queued", ... as the outbox stores it

struct Job {
    std::int64_t id = 0;
    std::string queue_id;
    std::string sender;
    std::string rcpt;
    std::string number;
    std::string body;
    JobState state = JobState::Queued;
    int attempts = 0;
    std::string last_error;
    std::string sid;
    bool check_first = false;
    std::int64_t created = 0;  // unix seconds
    std::int64_t next_attempt = 0;
    std::int64_t expires = 0;
    // Delivery status after the send (outbox_status.cpp), SPEC §9.
    std::string message_id;      // of the mail, as received ("<...>"); may be empty
    std::string status;          // Twilio's last status seen; empty: not polled yet
    int status_code = 0;         // Twilio's error code with it
    std::int64_t next_poll = 0;  // unix seconds; 0: no poll due (final, given up, off)
    int polls = 0;
    std::int64_t sent_at = 0;  // when Twilio accepted it; 0: not sent
    std::string sent_from;     // the number Twilio sent it from, when known
};

// A status poll that found the final status: what became of the job (outbox_status.cpp).
struct StatusUpdate {
    std::string status;                     // Twilio's status
    int code = 0;                           // its error code
    std::string from;                       // the number Twilio sent from, when the answer said
    std::optional<std::int64_t> next_poll;  // none: stop polling (final, or given up)
    bool gave_up = false;                   // stopped without a final status
};

// The alert a reply from `number` answers: the latest SMS sent to it within the window.
struct ReplyTarget {
    std::int64_t job = 0;
    std::string queue_id;
    std::string sender;
    std::string message_id;
    std::int64_t sent_at = 0;
};

// What enqueue did with each job: its id; or 0 when it was a duplicate, or held back by a
// storm (storm_of: that storm's first job, or -1 for a storm another relay opened).
struct EnqueueResult {
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> storm_of;
    std::size_t duplicates = 0;
};

// A storm window that closed with alerts held back: its summary job.
struct StormSummary {
    std::int64_t first_job = 0;
    std::int64_t job = 0;  // the summary SMS, queued
    std::int64_t held = 0;
    std::string queue_id;  // of the first job's message
    std::string sender;
    std::string number;
};

// One SMS counted against the rate limits.
struct CountedSms {
    std::int64_t at = 0;  // unix seconds
    std::string sender;
    std::string number;
};

// What `render` shows of the rate limits and storm windows, read from an outbox without
// creating or changing anything.
struct OpenStorm {
    std::string key;
    std::int64_t first_job = 0;
    std::int64_t held = 0;
    std::int64_t closes = 0;  // unix seconds
};
struct LimitsSnapshot {
    std::vector<CountedSms> counted;  // since the time asked for, oldest first
    std::vector<OpenStorm> storms;    // open now
};
// Null when STATE_DIRECTORY/outbox.db does not exist or cannot be read.
std::optional<LimitsSnapshot> read_limits_snapshot(const std::string& state_directory,
                                                   std::int64_t since);

class Outbox {
  public:
    // Opens (creating if needed) STATE_DIRECTORY/outbox.db. Throws std::runtime_error.
    explicit Outbox(const std::string& state_directory);

    // All jobs of one message, durable when it returns; a job whose dedup key was queued
    // within dedup_window is skipped. Concurrent calls share one transaction and one fsync
    // (group commit); a job with a storm key whose storm is open (younger than storm_window)
    // is held back and counted in that storm instead. Throws when it cannot commit.
    // before_visible(result) runs once the jobs have their ids and before any other call can
    // see them (claim them, send them): e.g. to watch them for their first answers.
    using BeforeVisible = std::function<void(const EnqueueResult&)>;
    EnqueueResult enqueue(const std::vector<NewJob>& jobs, std::chrono::seconds dedup_window,
                          std::chrono::seconds storm_window = std::chrono::seconds{0},
                          const BeforeVisible& before_visible = {});

    // Storm windows that have closed: each with alerts held back becomes a summary job,
    // queued now with the text summary(held, window seconds, sample), in one durable
    // transaction; all are forgotten.
    // A storm opened through the shared state counts the alerts every relay held back:
    // shared_held gives them by shared storm id (missing: this outbox's own count).
    using StormText = std::function<std::string(std::int64_t held, std::int64_t window_seconds,
                                                const std::string& sample)>;
    std::vector<StormSummary> close_storms(
        const StormText& summary, const std::map<std::string, std::int64_t>& shared_held = {});
    // The shared ids of the storms this relay opened whose window has closed.
    std::vector<std::string> closed_shared_storms();
    // Storm windows open now, and the alerts they hold back.
    struct StormCounts {
        std::int64_t open = 0;
        std::int64_t held = 0;
    };
    StormCounts storm_counts();
    // The SMS counted against the rate limits since `since` (unix seconds), oldest first.
    std::vector<CountedSms> counted_since(std::int64_t since);

    // Takes the next due job (queued, or deferred with its time come) and marks it sending.
    std::optional<Job> claim_due();
    // Takes up to `sends` due jobs without check_first and up to `lookups` due jobs with it,
    // marks them sending with one more attempt, and commits that durably, in one transaction
    // (one fsync), before returning them in the order they fell due.
    std::vector<Job> claim_due(std::size_t sends, std::size_t lookups);
    // When the next queued or deferred job falls due, if any; of those with or without
    // check_first only, when given. A storm window closing with alerts held back counts as
    // a job falling due without check_first.
    std::optional<Clock::time_point> next_due(std::optional<bool> check_first = std::nullopt);

    // first_poll: when its delivery status is first fetched (unix seconds); 0: never.
    void mark_sent(std::int64_t id, const std::string& sid,
                   std::int64_t first_poll = 0);  // no fsync of its own
    void mark_deferred(std::int64_t id, Clock::time_point next, const std::string& error,
                       bool check_first);  // no fsync of its own
    void mark_failed(std::int64_t id, const std::string& error);

    // After a crash: jobs left in `sending` become deferred, due now, with check_first set.
    int recover_interrupted();
    // While running: the same for jobs `sending` for over a minute that the sender does not
    // hold (a state write failed); how many.
    int recover_stranded(const std::set<std::int64_t>& held);

    // The lookup before a resend (outbox_lookup.cpp). The SIDs the outbox gave jobs other
    // than `id` to this number: never this job's message.
    std::set<std::string> sids_of_other_jobs(std::int64_t id, const std::string& number);
    // A lookup did not find the job's message: when the first such answer came (now, if
    // this is the first). The row is kept until forget_lookup_misses() (or the job is gone).
    Clock::time_point note_lookup_miss(std::int64_t id, Clock::time_point now);
    void forget_lookup_misses(std::int64_t id);

    // For `sms-milter queue`.
    std::vector<Job> list(std::size_t limit);
    std::optional<Job> get(std::int64_t id);
    bool retry_now(std::int64_t id);  // deferred or failed -> due now
    bool drop(std::int64_t id);
    std::map<std::string, std::int64_t> count_by_state();

    // Deletes sent and failed jobs last changed before the cutoff, unless their status is
    // still followed; how many.
    int purge_finished(Clock::time_point cutoff);

    // ---- delivery status and replies (outbox_status.cpp) ----------------------------------
    // Sent jobs whose status poll is due at `now`, oldest due first, at most `limit`.
    std::vector<Job> due_polls(std::int64_t now, std::size_t limit);
    // When the next status poll falls due, if any.
    std::optional<std::int64_t> next_poll_due();
    // Records a poll's answer. A final (or given-up) status is recorded once: true when this
    // call recorded it (and counted it: delivered, undelivered, failed, status_unknown), so
    // that its log line and notice come once even if a poll is repeated.
    bool record_status(std::int64_t id, const StatusUpdate& update);
    // A poll that failed (HTTP error, timeout): tried again at next_poll, or stopped (0).
    void poll_failed(std::int64_t id, std::int64_t next_poll, const std::string& error);
    // Stops following every status (status_polling = no); how many.
    int stop_polls();

    // Numbers Twilio sent from since `since` (Messaging Service senders), for the replies.
    std::vector<std::string> sent_from_numbers(std::int64_t since);
    ReplyTarget reply_target(const std::string& number, std::int64_t reply_at,
                             std::chrono::seconds window);
    // Remembers a reply's SID before it is mailed (durable): false when it was seen before.
    bool claim_reply(const std::string& sid, const std::string& number, std::int64_t at,
                     const std::string& outcome);
    void set_reply_outcome(const std::string& sid, const std::string& outcome);
    void forget_reply(const std::string& sid);  // to be handled again (sendmail failed)
    // Where the reply poll of a sending number left off (unix seconds; 0: never polled).
    std::int64_t reply_cursor(const std::string& to);
    void set_reply_cursor(const std::string& to, std::int64_t since);

    // Counters since the outbox was made: delivered, undelivered, failed, status_unknown,
    // replies_forwarded, replies_dropped (those that happened; a missing one is 0). For
    // `queue stats` and the metrics endpoint.
    std::map<std::string, std::int64_t> counters();
    void count(const std::string& name);

  private:
    struct EnqueueRequest {
        const std::vector<NewJob>* jobs;
        std::chrono::seconds dedup_window;
        std::chrono::seconds storm_window;
        const BeforeVisible* before_visible;
    };
    using EnqueueGroup = GroupCommit<EnqueueRequest, EnqueueResult>;
    void enqueue_batch(std::vector<EnqueueGroup::Item*>& batch);
    EnqueueResult insert_jobs(const EnqueueRequest& request, std::int64_t now);
    std::int64_t insert_job(const NewJob& j, std::int64_t now);
    // Storm bookkeeping for one new job (outbox_limits.cpp): the open storm's first job when
    // it is held back (counted there), else 0.
    std::int64_t hold_in_storm(const NewJob& j, std::int64_t now);
    void open_storm(const NewJob& j, std::int64_t job_id, std::int64_t now,
                    std::chrono::seconds window);
    void count_sms(const NewJob& j, std::int64_t now);
    void add_shared_storm_column();

    struct Closer {
        void operator()(sqlite3* db) const;
    };
    void exec(const char* sql);
    void migrate(std::int64_t from_version);  // outbox_status.cpp
    void count_locked(const std::string& name);
    std::mutex mutex_;
    std::unique_ptr<sqlite3, Closer> db_;
    std::unique_ptr<sqlite3, Closer> unsynced_db_;  // the same file, synchronous=NORMAL
    EnqueueGroup enqueue_group_;  // end of message from many threads: one fsync per round
};

}  // namespace smsm
