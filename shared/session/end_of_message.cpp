// End of message: durable jobs, the eom_wait outcome, the reply. See end_of_message.h.
#include "shared/session/end_of_message.h"

#include <chrono>
#include <string>

#include "shared/base/log.h"
#include "shared/delivery/notice.h"
#include "shared/metrics/metrics.h"

namespace smsm {

namespace {

// The reply when Twilio refused every SMS of the message for good while end of message
// waited; the jobs are failed already, and the client learns it from the reply instead of a
// notice (notices are owed otherwise).
std::optional<Reply> refusal(Sender& sender, const std::vector<std::int64_t>& ids,
                             std::chrono::seconds wait, const std::function<void()>& progress) {
    auto answers =
        sender.wait_first_answers(ids, std::chrono::steady_clock::now() + wait, progress);
    bool all_refused = answers.size() == ids.size();
    for (const auto& [id, a] : answers) all_refused = all_refused && a.permanent_failure;
    sender.release(ids, /*notify=*/!all_refused);
    if (!all_refused) return std::nullopt;
    const FirstAnswer& first = answers.begin()->second;
    return replies::twilio_refused(first.code, first.error);
}

// The jobs durable and, with eom_wait, their first answers awaited.
EomOutcome end_and_wait(Message& message, std::string_view qid, Outbox& outbox, Sender* sender,
                        const std::function<void()>& progress) {
    auto wait = message.config().eom_wait;
    if (!sender || wait.count() == 0) {
        EomOutcome out = message.end(qid, outbox);
        if (sender && !out.job_ids.empty()) sender->wake();
        return out;
    }
    std::vector<std::int64_t> watched;
    EomOutcome out;
    try {
        out = message.end(qid, outbox, [&](const EnqueueResult& queued) {
            for (auto id : queued.ids)
                if (id != 0) watched.push_back(id);
            sender->watch(watched);
        });
    } catch (...) {
        sender->release(watched, /*notify=*/false);
        throw;
    }
    if (out.job_ids.empty()) {  // not queued after all (rolled back), or nothing new
        sender->release(watched, /*notify=*/false);
        return out;
    }
    sender->wake();
    if (auto refused = refusal(*sender, out.job_ids, wait, progress)) {
        log::info(log::Qid{qid}, "reject: END-OF-MESSAGE: {}", refused->str());
        out.reply = *refused;
        out.remove.clear();   // the message is refused as a whole
        out.notices.clear();  // the reply says it all
    }
    return out;
}

// The notices for refused recipients go to the sender's notice thread: sendmail may take
// its time, the MTA's client must not. Without a sender (tests) they are mailed here.
void hand_over_notices(EomOutcome& out, Sender* sender) {
    for (auto& n : out.notices) {
        if (sender)
            sender->mail_notice(out.notice_config, std::move(n.job), std::move(n.reason));
        else
            send_failure_notice(*out.notice_config, n.job, n.reason);
    }
    out.notices.clear();
}

}  // namespace

EomOutcome end_message(Message& message, std::string_view qid, Outbox& outbox, Sender* sender,
                       const std::function<void()>& progress) {
    bool sms = message.has_sms();  // a message with SMS recipients: counted and timed
    auto start = std::chrono::steady_clock::now();
    if (sms) metrics::count_message();
    EomOutcome out = end_and_wait(message, qid, outbox, sender, progress);
    hand_over_notices(out, sender);
    if (sms)
        metrics::observe_end_of_message(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return out;
}

}  // namespace smsm
