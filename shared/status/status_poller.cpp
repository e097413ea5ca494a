// The status poller: delivery statuses and replies, one request at a time (status_poller.h).
#include "shared/status/status_poller.h"

#include <algorithm>

#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/delivery/notice.h"
#include "shared/metrics/metrics.h"
#include "shared/status/reply_mail.h"
#include "shared/twilio/message_status.h"
#include "shared/twilio/twilio.h"
#include "shared/twilio/twilio_errors.h"

namespace smsm {

namespace {

constexpr auto kIdleWait = std::chrono::seconds(15);  // also how soon a new job is seen
constexpr auto kErrorWait = std::chrono::seconds(5);
constexpr auto kCreatesWait = std::chrono::milliseconds(200);
constexpr auto kMinPause = std::chrono::seconds(60);  // after a 429
constexpr auto kAuthComplaintInterval = std::chrono::minutes(1);
constexpr double kUnpacedPollRate = 10;        // polls per second when twilio_send_rate = 0
constexpr std::size_t kPollBatch = 50;         // due polls read at once
constexpr int kMaxReplyPages = 10;             // 500 messages to one sending number per round
constexpr std::int64_t kReplySlack = 120;      // seconds read again behind the cursor
constexpr std::int64_t kFirstReplyLook = 300;  // a sending number never polled: 5 min back

std::string delivery_text(const std::string& status, int code) {
    if (!is_failed_status(status) && code == 0) return status;
    return fmt::format("{} ({})", status, twilio_error_text(code));
}

}  // namespace

void StatusPoller::start() {
    thread_ = std::thread([this] { run(); });
}

void StatusPoller::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool StatusPoller::sleep_until(Steady::time_point until) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, until, [&] { return stopping_; });
    return !stopping_;
}

bool StatusPoller::may_request() {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return false;
        }
        auto now = Steady::now();
        if (now < paused_until_) return false;
        if (sender_.creates_waiting()) {
            sleep_until(now + kCreatesWait);
            continue;
        }
        if (!pacer_.may_start(now)) {
            sleep_until(pacer_.next_start());
            continue;
        }
        pacer_.started(now);
        return true;
    }
}

void StatusPoller::run() {
    std::shared_ptr<const Config> made_for;
    std::unique_ptr<TwilioClient> client;
    for (;;) {
        auto cfg = config_.get();
        try {
            if (cfg != made_for) {
                client = std::make_unique<TwilioClient>(*cfg);
                made_for = cfg;
                pacer_.set_rate(cfg->twilio_send_rate > 0 ? cfg->twilio_send_rate
                                                          : kUnpacedPollRate);
                if (!cfg->status_polling)
                    if (int n = outbox_.stop_polls(); n > 0)
                        log::info("status_polling = no: stopped following the status of {} SMS", n);
            }
            round(*cfg, *client);
        } catch (const std::exception& e) {
            log::error("status poller: {}", e.what());
            if (!sleep_until(Steady::now() + kErrorWait)) return;
            continue;
        }
        // Until the next poll falls due, the next reply poll, or kIdleWait at most (a job
        // sent meanwhile is due status_poll_schedule's first time after its send).
        auto until = Steady::now() + kIdleWait;
        if (cfg->status_polling) {
            until = std::min(until, Steady::now() + cfg->status_poll_schedule.front());
            if (auto due = outbox_.next_poll_due()) {
                auto in = std::chrono::seconds(std::max<std::int64_t>(0, *due - unix_now()));
                until = std::min(until, Steady::now() + in);
            }
        }
        if (cfg->reply_forwarding) until = std::min(until, next_reply_poll_);
        until = std::max(until,
                         std::max(paused_until_, Steady::now() + std::chrono::milliseconds(100)));
        if (!sleep_until(until)) return;
    }
}

void StatusPoller::round(const Config& cfg, TwilioClient& client) {
    pacer_.idle(Steady::now());  // no burst to make up for the time between rounds
    if (cfg.status_polling) poll_statuses(cfg, client);
    if (cfg.reply_forwarding && Steady::now() >= next_reply_poll_) {
        next_reply_poll_ = Steady::now() + cfg.reply_poll_interval;
        poll_replies(cfg, client);
    }
}

void StatusPoller::poll_statuses(const Config& cfg, TwilioClient& client) {
    for (;;) {
        auto jobs = outbox_.due_polls(unix_now(), kPollBatch);
        for (const auto& job : jobs) {
            if (!may_request()) return;
            poll_one(cfg, client, job);
        }
        if (jobs.size() < kPollBatch) return;
    }
}

void StatusPoller::poll_one(const Config& cfg, TwilioClient& client, const Job& job) {
    log::Qid q{job.queue_id};
    std::string body;
    SendResult r = client.fetch_message(job.sid, body);
    auto now = unix_now();
    auto next = next_poll_time(cfg, job.polls + 1, job.sent_at, now);
    MessageStatus st;
    if (r.kind == SendResult::Kind::Sent) {
        st = parse_message_status(body);
        if (!st.ok) r = {SendResult::Kind::Ambiguous, r.http_status, 0, "", 0, st.error, {}};
    }
    switch (r.kind) {
        case SendResult::Kind::Sent:
            break;
        case SendResult::Kind::Permanent:  // 404: Twilio does not know it (any more)
            if (outbox_.record_status(job.id, {"unknown", 0, "", std::nullopt, true})) {
                log::warning(q, "to={}, from=<{}>, status=unknown, sid={} (status poll: {})",
                             log::number(job.number), printable(job.sender), printable(job.sid, 64),
                             printable(r.error));
                metrics::count_sms(metrics::SmsStatus::Unknown);
            }
            return;
        case SendResult::Kind::Retry:
            if (r.http_status == 429) {
                paused_until_ = Steady::now() + std::max<std::chrono::seconds>(
                                                    kMinPause, r.retry_after.value_or(kMinPause));
                log::warning("status poller: Twilio asks to slow down ({}); pausing",
                             printable(r.error));
            }
            [[fallthrough]];
        default:
            if (r.kind == SendResult::Kind::AuthError &&
                Steady::now() - last_auth_complaint_ > kAuthComplaintInterval) {
                last_auth_complaint_ = Steady::now();
                log::error("status poller: Twilio rejected the credentials ({})",
                           printable(r.error));
            }
            if (next) {
                outbox_.poll_failed(job.id, *next, r.error);
            } else if (outbox_.record_status(job.id, {"", 0, "", std::nullopt, true})) {
                log::info(q, "to={}, from=<{}>, status=unknown, sid={} (no status after {}s: {})",
                          log::number(job.number), printable(job.sender), printable(job.sid, 64),
                          cfg.status_poll_give_up.count(), printable(r.error));
                metrics::count_sms(metrics::SmsStatus::Unknown);
            }
            return;
    }
    if (!is_final_status(st.status) && next) {
        outbox_.record_status(job.id, {st.status, st.error_code, st.from, next, false});
        return;
    }
    bool final = is_final_status(st.status);
    if (!outbox_.record_status(job.id, {st.status, st.error_code, st.from, std::nullopt, !final}))
        return;  // recorded before (a repeated poll)
    std::string what = delivery_text(st.status, st.error_code);
    if (!final) {
        log::info(q,
                  "to={}, from=<{}>, status=unknown, sid={} (still {} after {}s; no longer "
                  "followed)",
                  log::number(job.number), printable(job.sender), printable(job.sid, 64),
                  printable(st.status, 32), cfg.status_poll_give_up.count());
        metrics::count_sms(metrics::SmsStatus::Unknown);
        return;
    }
    log::info(q, "to={}, from=<{}>, status={}, sid={}", log::number(job.number),
              printable(job.sender), what, printable(job.sid, 64));
    // As logged: Twilio's final "failed" (after the create was accepted) counts as failed.
    metrics::count_sms(st.status == "delivered"     ? metrics::SmsStatus::Delivered
                       : st.status == "undelivered" ? metrics::SmsStatus::Undelivered
                                                    : metrics::SmsStatus::Failed);
    if (is_failed_status(st.status) && !notice_recipient(cfg, job).empty())
        sender_.mail_notice(config_.get(), job, what);
}

void StatusPoller::poll_replies(const Config& cfg, TwilioClient& client) {
    std::vector<std::string> numbers;
    if (!cfg.twilio_from.empty())
        numbers.push_back(cfg.twilio_from);
    else  // a Messaging Service: the numbers it sent from, as the status polls saw them
        numbers = outbox_.sent_from_numbers(unix_now() - cfg.reply_window.count());
    for (const auto& to : numbers) poll_replies_to(cfg, client, to);
}

void StatusPoller::poll_replies_to(const Config& cfg, TwilioClient& client, const std::string& to) {
    std::int64_t now = unix_now();
    std::int64_t cursor = outbox_.reply_cursor(to);
    if (cursor == 0) cursor = now - kFirstReplyLook;
    std::int64_t since = cursor - kReplySlack;
    std::vector<InboundMessage> replies;
    std::string page_uri;
    for (int page = 0; page < kMaxReplyPages; ++page) {
        if (!may_request()) return;
        std::string body;
        SendResult r = client.list_messages_to(to, since, page_uri, body);
        if (r.kind != SendResult::Kind::Sent) {
            if (r.http_status == 429)
                paused_until_ = Steady::now() + std::max<std::chrono::seconds>(
                                                    kMinPause, r.retry_after.value_or(kMinPause));
            log::warning("reply poll to {}: {}", log::number(to), printable(r.error));
            return;  // the cursor stays: read again next time
        }
        InboundPage found = parse_inbound_page(body, since);
        if (!found.ok) {
            log::warning("reply poll to {}: {}", log::number(to), found.error);
            return;
        }
        for (auto& m : found.messages) replies.push_back(std::move(m));
        if (found.next_page_uri.empty()) break;
        page_uri = found.next_page_uri;
    }
    std::sort(replies.begin(), replies.end(),
              [](const InboundMessage& a, const InboundMessage& b) { return a.at < b.at; });
    std::int64_t newest = cursor;
    for (const auto& m : replies) {
        if (m.to != to) continue;
        handle_reply(cfg, m);
        newest = std::max(newest, m.at);
    }
    // Not past now: a reply Twilio dates a little behind us is read again (kReplySlack).
    outbox_.set_reply_cursor(to, std::min(std::max(newest, cursor), now));
}

void StatusPoller::handle_reply(const Config& cfg, const InboundMessage& m) {
    if (!outbox_.claim_reply(m.sid, m.from, m.at, "mailing")) return;  // handled before
    std::string keyword = reply_keyword(m.body);
    std::string kw = keyword.empty() ? "" : ", keyword=" + keyword;
    ReplyTarget alert = outbox_.reply_target(m.from, m.at, cfg.reply_window);
    if (alert.job == 0) {
        log::info(
            "reply from={}, to={}, sid={}{}: no SMS sent to that number within "
            "reply_window; dropped",
            log::number(m.from), log::number(m.to), printable(m.sid, 64), kw);
        outbox_.set_reply_outcome(m.sid, "dropped: no alert");
        outbox_.count("replies_dropped");
        return;
    }
    log::Qid q{alert.queue_id};
    std::string why;
    std::string rcpt = reply_recipient(cfg, alert.sender, why);
    if (rcpt.empty()) {
        log::info(q, "reply from={}, sid={}{}: {}; dropped", log::number(m.from),
                  printable(m.sid, 64), kw, why);
        outbox_.set_reply_outcome(m.sid, "dropped: " + why);
        outbox_.count("replies_dropped");
        return;
    }
    std::string mail = compose_reply(cfg, m, alert, rcpt, keyword, unix_now());
    if (!pipe_to_sendmail(cfg, rcpt, mail)) {
        log::warning(q,
                     "reply from={}, sid={}: cannot mail it to <{}> with {}; trying again "
                     "at the next reply poll",
                     log::number(m.from), printable(m.sid, 64), printable(rcpt),
                     printable(cfg.sendmail_command.empty() ? "" : cfg.sendmail_command[0]));
        outbox_.forget_reply(m.sid);
        return;
    }
    outbox_.set_reply_outcome(m.sid, "forwarded");
    outbox_.count("replies_forwarded");
    log::info(q, "reply from={}, sid={}{}: mailed to <{}> (in reply to job {})",
              log::number(m.from), printable(m.sid, 64), kw, printable(rcpt), alert.job);
}

}  // namespace smsm
