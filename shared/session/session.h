// The two lifetimes of the milter: a Connection lives from connect to close and carries any
// number of Messages; a Message lives from MAIL FROM to end of message or abort. Both hold
// plain values only: milter/callbacks.cpp does the libmilter side.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "shared/config/config.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/policy.h"
#include "shared/policy/rate_limit.h"
#include "shared/policy/reply.h"
#include "shared/shared_state/shared_state.h"
#include "shared/text/body_capture.h"

namespace smsm {

// Identifies "the same alert again" for storm_window: envelope sender, number and the text as
// storm_fingerprint() reads it (shared/text/storm_text.h).
std::string storm_key(const std::string& sender, const std::string& number,
                      const std::string& text);

// A failure notice to mail: an SMS recipient refused at end of message.
struct RefusalNotice {
    Job job;  // not in the outbox: what the notice tells of
    std::string reason;
};

struct EomOutcome {
    Reply reply;                        // Continue, Discard, Reject or Tempfail
    std::vector<std::string> remove;    // RCPT arguments to delete, exactly as received
    std::vector<std::int64_t> job_ids;  // SMS jobs committed to the outbox by this message
    std::vector<RefusalNotice> notices;
    std::shared_ptr<const Config> notice_config;  // failure_notice at least "sender"
};

class Message {
  public:
    // limits: the rate limits' counters; null: none are applied (render). shared: what the
    // relays share (shared_state); null: nothing.
    Message(std::shared_ptr<const Config> cfg, Envelope env, RateLimiter* limits = nullptr,
            SharedState* shared = nullptr);
    ~Message();
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    // decision, when given, receives the policy's decision for this recipient (for render).
    Reply rcpt(std::string_view raw, std::string_view qid, RcptDecision* decision = nullptr);
    bool has_sms() const { return !sms_.empty() || !refused_.empty(); }
    const Config& config() const { return *cfg_; }
    void header(std::string_view name, std::string_view value);
    void body(std::string_view chunk);
    // The jobs made durable, and what to answer; before_visible as for Outbox::enqueue.
    // shared/session/end_of_message.h is the whole of end of message (eom_wait included).
    EomOutcome end(std::string_view qid, Outbox& outbox,
                   const Outbox::BeforeVisible& before_visible = {});
    // A capture step failed (headers and body get no reply): end of message answers 451.
    void fail() { failed_ = true; }
    bool failed() const { return failed_; }
    // The SMS text of the captured message (empty: no text at all). Ends the capture.
    std::string sms_text();
    // What end of message answers the SMS recipients for this text when it cannot be sent
    // (a message with no text at all: 550 5.6.0); nothing when it can.
    static std::optional<Reply> text_refusal(std::string_view sms_text);

  private:
    std::string bare_sender() const;
    std::optional<Reply> over_limit(const std::vector<PhoneNumber>& numbers, std::string_view raw,
                                    std::string_view qid);
    std::optional<Reply> shared_reserve(const std::vector<std::string>& e164, std::int64_t now,
                                        std::vector<std::string>& handles, std::string_view raw,
                                        std::string_view qid);
    std::optional<Reply> enqueue(log::Qid q, std::vector<NewJob>& jobs, Outbox& outbox,
                                 const Outbox::BeforeVisible& before_visible,
                                 EnqueueResult& queued);
    std::vector<NewJob> make_jobs(std::string_view qid, const std::string& text) const;
    void log_queued(log::Qid q, const std::vector<NewJob>& jobs, const EnqueueResult& queued,
                    EomOutcome& out);
    void refuse_recipients(log::Qid q, const std::string& text, EomOutcome& out);
    struct SmsRcpt {
        std::string raw;
        std::vector<std::string> numbers;  // one, or an alias's
    };
    // A gateway recipient of a local submission refused at RCPT, answered at end of message.
    struct Refused {
        std::string raw;
        std::string number;  // empty when the address names no valid number
        Reply reply;
    };
    std::shared_ptr<const Config> cfg_;
    Envelope env_;
    RateLimiter* limits_;
    SharedState* shared_;
    std::vector<std::string> reserved_;  // numbers reserved at RCPT, not yet committed
    std::vector<std::string> handles_;   // their shared reservations ("": none)
    std::vector<SmsRcpt> sms_;
    std::size_t sms_numbers_ = 0;
    std::vector<Refused> refused_;
    std::size_t ordinary_ = 0;
    BodyCapture capture_;  // headers and body, bounded
    std::size_t headers_ = 0;
    std::string identity_;    // the Message-ID and Date headers
    std::string message_id_;  // the Message-ID header, when well-formed (for replies)
    bool in_body_ = false;
    bool headers_cut_ = false;
    bool mime_cut_ = false;  // the MIME parser saw only the start (shared/text/mime_limit.h)
    bool failed_ = false;
};

struct Connection {
    std::optional<IpAddress> client;  // none: the MTA gave no address
    bool local_submission = false;    // no SMTP client: sendmail(1), Postfix pickup
    std::unique_ptr<Message> message;
    bool mta_is_postfix = false;    // the v macro says "Postfix ..."
    bool no_reply_connect = false;  // negotiated SMFIP_NR_CONN
    bool no_reply_mail = false;     // negotiated SMFIP_NR_MAIL
    bool no_reply_content = false;  // negotiated SMFIP_NR_HDR and SMFIP_NR_BODY
};

}  // namespace smsm
