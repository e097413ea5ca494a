// Per-message logic: RCPT decisions, bounded capture of the message, and end of message:
// text, durable jobs, then which recipients to remove and whether to discard.
#include "shared/session/session.h"

#include <openssl/sha.h>

#include <algorithm>

#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/metrics/metrics.h"
#include "shared/policy/address.h"
#include "shared/status/reply_mail.h"
#include "shared/text/message_text.h"
#include "shared/text/mime_limit.h"
#include "shared/text/storm_text.h"

namespace smsm {

namespace {
constexpr std::size_t kMaxSmsRcpts = 1000;  // numbers, aliases counted by their numbers

std::string sha256_hex(const std::string& material) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
    std::string hex;
    for (unsigned char b : digest) hex += fmt::format("{:02x}", b);
    return hex;
}
// Identifies "the same SMS from the same message" across client resubmissions, whose queue
// IDs differ: SHA-256 over envelope sender, number, Message-ID and Date, and text.
std::string dedup_key(const std::string& sender, const std::string& number,
                      const std::string& message_id, const std::string& text) {
    return sha256_hex(to_lower(sender) + '\0' + number + '\0' + message_id + '\0' + text);
}
// The number a gateway recipient names, for a failure notice; empty when it names none.
std::string number_of(const Config& cfg, std::string_view raw) {
    auto addr = parse_address(raw);
    auto gateway = addr ? match_gateway(cfg, addr->domain) : std::nullopt;
    auto n = gateway ? parse_phone(addr->local, gateway->region) : std::nullopt;
    return n ? n->e164 : "";
}
constexpr std::size_t kMaxHeaders = 1000;

void count_limit_hit(LimitKind kind) {
    metrics::count_rate_limit_hit(kind == LimitKind::Sender ? metrics::RateLimitKind::Sender
                                  : kind == LimitKind::Destination
                                      ? metrics::RateLimitKind::Destination
                                      : metrics::RateLimitKind::Global);
}
constexpr std::size_t kMaxHeaderBytes = 256 * 1024;
}  // namespace

std::string storm_key(const std::string& sender, const std::string& number,
                      const std::string& text) {
    return sha256_hex(to_lower(sender) + '\0' + number + '\0' + storm_fingerprint(text));
}

Message::Message(std::shared_ptr<const Config> cfg, Envelope env, RateLimiter* limits,
                 SharedState* shared)
    : cfg_(std::move(cfg)),
      env_(std::move(env)),
      limits_(limits),
      shared_(shared),
      capture_(cfg_->body_size_limit) {}

Message::~Message() {
    for (std::size_t i = 0; i < reserved_.size(); ++i) {
        limits_->release(env_.sender, reserved_[i]);
        if (shared_ && !handles_[i].empty())
            shared_->release(env_.sender, reserved_[i], handles_[i]);
    }
}

// The shared part of a reservation (shared_state): the reply when a limit across the relays
// refuses, or when the shared state cannot be reached and shared_state_failure = tempfail.
std::optional<Reply> Message::shared_reserve(const std::vector<std::string>& e164, std::int64_t now,
                                             std::vector<std::string>& handles,
                                             std::string_view raw, std::string_view qid) {
    handles.assign(e164.size(), "");
    if (!shared_) return std::nullopt;
    bool tempfail = cfg_->shared_state_failure == SharedStateFailure::Tempfail;
    SharedReservation sr;
    if (tempfail && shared_->status() == SharedStatus::Unavailable)
        sr.status = SharedStatus::Unavailable;
    else
        sr = shared_->reserve(*cfg_, env_.sender, e164, now);
    std::optional<Reply> r;
    if (sr.status == SharedStatus::Unavailable && tempfail)
        r = replies::shared_unavailable();
    else if (sr.hit) {
        r = replies::rate_limited(limit_key_name(sr.hit->kind), sr.hit->limit.str());
        count_limit_hit(sr.hit->kind);
    }
    if (!r) {
        if (sr.handles.size() == e164.size()) handles = sr.handles;
        return std::nullopt;
    }
    if (!env_.local_submission)
        log::info(log::Qid{qid}, "reject: RCPT from [{}]: {}; from=<{}> to={}{}",
                  env_.client ? env_.client->str() : "local", r->str(), printable(bare_sender()),
                  log::address(raw), sr.hit ? " (counted across the relays)" : "");
    return r;
}

// Reserves the SMS this recipient would cost against the rate limits; the reply when a
// limit refuses.
std::optional<Reply> Message::over_limit(const std::vector<PhoneNumber>& numbers,
                                         std::string_view raw, std::string_view qid) {
    if (!limits_) return std::nullopt;
    std::vector<std::string> e164;  // a number this message texts already costs nothing more
    for (const auto& n : numbers)
        if (std::find(reserved_.begin(), reserved_.end(), n.e164) == reserved_.end())
            e164.push_back(n.e164);
    std::int64_t now = unix_now();
    std::vector<std::string> handles;
    if (auto refused = shared_reserve(e164, now, handles, raw, qid)) return refused;
    auto hit = limits_->reserve(*cfg_, env_.sender, e164, now);
    if (!hit) {
        reserved_.insert(reserved_.end(), e164.begin(), e164.end());
        handles_.insert(handles_.end(), handles.begin(), handles.end());
        return std::nullopt;
    }
    for (std::size_t i = 0; i < e164.size(); ++i)
        if (!handles[i].empty()) shared_->release(env_.sender, e164[i], handles[i]);
    Reply r = replies::rate_limited(limit_key_name(hit->kind), hit->limit.str());
    count_limit_hit(hit->kind);
    if (!env_.local_submission)
        log::info(log::Qid{qid}, "reject: RCPT from [{}]: {}; from=<{}> to={}",
                  env_.client ? env_.client->str() : "local", r.str(), printable(bare_sender()),
                  log::address(raw));
    return r;
}

Reply Message::rcpt(std::string_view raw, std::string_view qid, RcptDecision* decision) {
    RcptDecision d = decide_rcpt(*cfg_, env_, raw);
    if (decision) *decision = d;
    if (!d.gateway) {
        ++ordinary_;
        return Reply::cont();
    }
    if (d.reply.action == Reply::Action::Continue &&
        sms_numbers_ + d.numbers.size() > kMaxSmsRcpts) {
        d.reply = Reply::tempfail("452", "4.5.3", "Too many SMS recipients");
        d.reason = metrics::RcptReason::TooManyRecipients;
    }
    if (d.reply.action == Reply::Action::Continue) {
        if (auto limited = over_limit(d.numbers, raw, qid)) {
            d.reason = limited->rcode == "450" ? metrics::RcptReason::RateLimit
                                               : metrics::RcptReason::SharedStateUnavailable;
            metrics::count_rcpt(d.reason);
            if (!env_.local_submission) return *limited;
            d.reply = *limited;
        }
    } else {
        metrics::count_rcpt(d.reason);
    }
    if (d.reply.action != Reply::Action::Continue && env_.local_submission) {
        // Postfix cannot refuse a recipient of locally submitted mail (it would keep the
        // message and log a configuration error): the refusal waits for end of message.
        refused_.push_back({std::string(raw), number_of(*cfg_, raw), d.reply});
        return Reply::cont();
    }
    if (d.reply.action != Reply::Action::Continue) {
        log::info(log::Qid{qid}, "reject: RCPT from [{}]: {}; from=<{}> to={}",
                  env_.client ? env_.client->str() : "local", d.reply.str(),
                  printable(bare_sender()), log::address(raw));
        return d.reply;
    }
    metrics::count_rcpt(metrics::RcptReason::Allowed);
    SmsRcpt r{std::string(raw), {}};
    for (const auto& n : d.numbers) r.numbers.push_back(n.e164);
    sms_numbers_ += r.numbers.size();
    sms_.push_back(std::move(r));
    return Reply::cont();
}

std::string Message::bare_sender() const {
    return envelope_address(env_.sender);
}

void Message::header(std::string_view name, std::string_view value) {
    std::string& raw = capture_.data();
    if (++headers_ > kMaxHeaders || raw.size() + name.size() + value.size() + 4 > kMaxHeaderBytes) {
        headers_cut_ = true;
        return;
    }
    raw.append(name).append(": ").append(value).append("\r\n");
    // Message-ID and Date identify a resubmission of the same mail; a new alert with the same
    // text (even from a device that sends no Message-ID) has another Date.
    if (iequals(name, "Message-ID") || iequals(name, "Date"))
        identity_ += std::string(trim(value).substr(0, 998)) + '\n';
    if (iequals(name, "Message-ID")) message_id_ = well_formed_message_id(value);
}

void Message::body(std::string_view chunk) {
    if (!in_body_) {
        capture_.data().append("\r\n");  // the blank line after the headers
        in_body_ = true;
    }
    capture_.append(chunk);
}

std::optional<Reply> Message::text_refusal(std::string_view sms_text) {
    if (sms_text.empty()) return replies::no_text();
    return std::nullopt;
}

std::string Message::sms_text() {
    if (!in_body_) {
        capture_.data().append("\r\n");  // the blank line after the headers
        in_body_ = true;
    }
    MessageText text = extract_text(capture_.data(), cfg_->body_cut_marker);
    mime_cut_ = text.mime_cut;
    return compose_sms(text, text_options(*cfg_), bare_sender());
}

// Refused recipients of a local submission that has other recipients: removed, logged, and
// reported to the sender (or failure_notice's address) by a notice, since the MTA cannot
// bounce one recipient of a message it keeps. The notices are mailed by the sender's notice
// thread (end_of_message.cpp), never on the MTA's time.
void Message::refuse_recipients(log::Qid q, const std::string& text, EomOutcome& out) {
    if (refused_.empty()) return;
    auto notice_cfg = std::make_shared<Config>(*cfg_);
    if (notice_cfg->failure_notice.empty()) notice_cfg->failure_notice = "sender";
    out.notice_config = notice_cfg;
    for (const auto& r : refused_) {
        log::info(q, "reject: END-OF-MESSAGE: {}; from=<{}> to={} (recipient removed)",
                  r.reply.str(), printable(bare_sender()), log::address(bracketed(r.raw)));
        out.remove.push_back(r.raw);
        Job job;
        job.queue_id = std::string(q.id);
        job.sender = bare_sender();
        job.rcpt = r.raw;
        job.number = r.number.empty() ? bare_address(r.raw) : r.number;
        job.body = text;
        out.notices.push_back({std::move(job), r.reply.str()});
    }
}

// One job per distinct number, each with its dedup and storm keys.
std::vector<NewJob> Message::make_jobs(std::string_view qid, const std::string& text) const {
    auto expires = Clock::now() + cfg_->max_queue_lifetime;
    bool storms = cfg_->storm_window.count() > 0;
    std::string sample = storms ? storm_sample(text) : "";
    std::vector<NewJob> jobs;
    for (const auto& r : sms_) {
        for (const auto& number : r.numbers) {  // one number, or an alias's
            bool dup = std::any_of(jobs.begin(), jobs.end(),
                                   [&](const NewJob& j) { return j.number == number; });
            if (dup) continue;
            NewJob j;
            j.queue_id = qid;
            j.sender = bare_sender();
            j.rcpt = r.raw;
            j.number = number;
            j.body = text;
            if (cfg_->duplicate_window.count() > 0)
                j.dedup_key = dedup_key(j.sender, number, identity_, text);
            j.expires = expires;
            j.message_id = message_id_;
            if (storms) {
                j.storm_key = storm_key(j.sender, number, text);
                j.storm_sample = sample;
            }
            jobs.push_back(std::move(j));
        }
    }
    return jobs;
}

// Logs what became of each job, and counts the queued ones against the rate limits (their
// reservations from RCPT); the others' reservations are released with the message.
void Message::log_queued(log::Qid q, const std::vector<NewJob>& jobs, const EnqueueResult& queued,
                         EomOutcome& out) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const NewJob& j = jobs[i];
        if (queued.ids[i] != 0) {
            out.job_ids.push_back(queued.ids[i]);
            log::info(q, "to={}, from=<{}>, status=queued, job={}", log::number(j.number),
                      printable(j.sender), queued.ids[i]);
            metrics::count_sms(metrics::SmsStatus::Queued);
            if (auto it = std::find(reserved_.begin(), reserved_.end(), j.number);
                it != reserved_.end()) {
                handles_.erase(handles_.begin() + (it - reserved_.begin()));
                reserved_.erase(it);
                limits_->commit(env_.sender, j.number, unix_now());
            }
        } else if (queued.storm_of[i] < 0) {
            log::info(q,
                      "to={}, from=<{}>, status=suppressed (the same alert within storm_window, "
                      "sent by another relay; counted in its summary)",
                      log::number(j.number), printable(j.sender));
            metrics::count_sms(metrics::SmsStatus::Suppressed);
        } else if (queued.storm_of[i] != 0) {
            log::info(q,
                      "to={}, from=<{}>, status=suppressed, first_job={} (the same alert within "
                      "storm_window; counted in its summary)",
                      log::number(j.number), printable(j.sender), queued.storm_of[i]);
            metrics::count_sms(metrics::SmsStatus::Suppressed);
        } else {
            log::info(q,
                      "to={}, from=<{}>, status=duplicate (queued before within "
                      "duplicate_window; not sent again)",
                      log::number(j.number), printable(j.sender));
            metrics::count_sms(metrics::SmsStatus::Duplicate);
        }
    }
}

// The jobs to the outbox, after the shared state (shared_state) has said which are duplicates
// and which storms they open or join; the reply when they cannot be queued.
std::optional<Reply> Message::enqueue(log::Qid q, std::vector<NewJob>& jobs, Outbox& outbox,
                                      const Outbox::BeforeVisible& before_visible,
                                      EnqueueResult& queued) {
    std::vector<SharedClaim> claims(jobs.size());
    if (shared_) {
        try {
            claims = shared_->claim(*cfg_, jobs, unix_now());
        } catch (const SharedUnavailable& e) {
            if (cfg_->shared_state_failure == SharedStateFailure::Tempfail) {
                log::warning(q, "cannot reach the shared state ({}); answering 451", e.what());
                return replies::shared_unavailable();
            }
            claims.assign(jobs.size(), SharedClaim{});  // this relay's own dedup and storms
        }
        if (std::any_of(claims.begin(), claims.end(), [](const SharedClaim& c) {
                return c.dedup == SharedClaim::Dedup::Pending;
            })) {
            shared_->settle(*cfg_, jobs, claims, nullptr);
            log::info(q, "another relay is queueing the same message now; answering 451");
            return replies::queued_elsewhere();
        }
    }
    // Duplicates across the relays never reach the outbox.
    std::vector<NewJob> fresh;
    std::vector<SharedClaim> fresh_claims;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (claims[i].dedup == SharedClaim::Dedup::Duplicate) continue;
        jobs[i].shared_storm = claims[i].storm;
        fresh.push_back(jobs[i]);
        fresh_claims.push_back(claims[i]);
    }
    EnqueueResult got;
    try {
        if (!fresh.empty())
            got = outbox.enqueue(fresh, cfg_->duplicate_window, cfg_->storm_window, before_visible);
    } catch (const std::exception& e) {
        if (shared_) shared_->settle(*cfg_, fresh, fresh_claims, nullptr);
        log::error(q, "cannot queue SMS: {}", e.what());
        return replies::not_queued();
    }
    if (shared_) shared_->settle(*cfg_, fresh, fresh_claims, &got);
    std::size_t k = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        bool dup = claims[i].dedup == SharedClaim::Dedup::Duplicate;
        queued.ids.push_back(dup ? 0 : got.ids[k]);
        queued.storm_of.push_back(dup ? 0 : got.storm_of[k]);
        if (!dup) ++k;
    }
    queued.duplicates = got.duplicates + (jobs.size() - fresh.size());
    return std::nullopt;
}

EomOutcome Message::end(std::string_view qid, Outbox& outbox,
                        const Outbox::BeforeVisible& before_visible) {
    EomOutcome out;
    if (sms_.empty() && refused_.empty()) return out;
    log::Qid q{qid};
    if (failed_) {
        log::error(q, "the message could not be captured; answering 451");
        out.reply = replies::internal();
        return out;
    }
    if (capture_.cut() || headers_cut_)
        log::info(
            q,
            "message too large for body_size_limit: kept {} bytes and the start of each later MIME "
            "part, skipped {} bytes{}",
            capture_.data().size(), capture_.dropped(), headers_cut_ ? " and some headers" : "");
    if (sms_.empty() && ordinary_ == 0) {
        // Only refused SMS recipients (local submission): refusing the message makes the MTA
        // bounce it to the sender with this reply.
        out.reply = refused_.front().reply;
        for (const auto& r : refused_)
            log::info(q, "reject: END-OF-MESSAGE: {}; from=<{}> to={}", r.reply.str(),
                      printable(bare_sender()), log::address(bracketed(r.raw)));
        return out;
    }
    if (sms_.empty()) {
        refuse_recipients(q, sms_text(), out);
        return out;
    }
    std::string text = sms_text();
    if (mime_cut_) {
        MimeCaps caps;
        log::info(q,
                  "message structure too large: the SMS text comes from its start only (parsed "
                  "up to {} MIME parts, {} header lines, {} bytes of address and parameter "
                  "fields)",
                  caps.parts, caps.header_lines, caps.field_bytes);
    }
    if (auto refused = text_refusal(text)) {
        out.reply = *refused;
        log::info(q, "reject: END-OF-MESSAGE: {}; from=<{}>", out.reply.str(),
                  printable(bare_sender()));
        return out;
    }
    std::vector<NewJob> jobs = make_jobs(qid, text);
    EnqueueResult queued;
    if (auto refused = enqueue(q, jobs, outbox, before_visible, queued)) {
        out.reply = *refused;
        return out;
    }
    log_queued(q, jobs, queued, out);
    refuse_recipients(q, text, out);
    for (const auto& r : sms_) out.remove.push_back(r.raw);
    if (ordinary_ == 0) out.reply.action = Reply::Action::Discard;
    return out;
}

}  // namespace smsm
