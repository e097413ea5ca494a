// SMS replies as mail: recipient rules and the mail itself.
#include "shared/status/reply_mail.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/policy/address.h"
#include "shared/policy/policy.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxReplyChars = 1600;  // Twilio's longest message

std::string rfc2822_date(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

std::string keyword_note(const std::string& keyword) {
    if (keyword == "STOP")
        return "STOP: the number has opted out; Twilio refuses further SMS to it until it "
               "replies START";
    if (keyword == "START") return "START: the number has opted in again";
    if (keyword == "HELP") return "HELP: Twilio answered the phone with the help text";
    return {};
}

}  // namespace

std::string well_formed_message_id(std::string_view value) {
    std::string v = strip_address_comments(trim(value));
    std::string_view id = trim(v);
    if (id.size() < 5 || id.size() > 250 || id.front() != '<' || id.back() != '>') return {};
    std::string_view inner = id.substr(1, id.size() - 2);
    if (inner.find('@') == std::string_view::npos) return {};
    for (unsigned char c : inner)
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') return {};
    return std::string(id);
}

std::string reply_recipient(const Config& cfg, const std::string& sender, std::string& why) {
    if (sender.empty()) {
        why = "the alert came from the null sender";
        return {};
    }
    auto addr = parse_address(sender);
    if (!addr) {
        why = "the alert's sender is not an address";
        return {};
    }
    if (is_gateway_domain(cfg, addr->domain)) {
        why = "the alert's sender is in a gateway domain";
        return {};
    }
    return bare_address(sender);
}

std::string compose_reply(const Config& cfg, const InboundMessage& reply, const ReplyTarget& alert,
                          const std::string& to, const std::string& keyword, std::int64_t now) {
    // The number and SID come from Twilio: checked before they go into a header.
    std::string number = reply.from;
    bool e164 = number.size() > 1 && number.size() <= 16 && number[0] == '+' &&
                std::all_of(number.begin() + 1, number.end(),
                            [](unsigned char c) { return c >= '0' && c <= '9'; });
    std::string domain = cfg.gateway_domains.empty() ? "localhost" : cfg.gateway_domains[0].name;
    std::string from = e164 ? number + "@" + domain : "MAILER-DAEMON@" + domain;
    std::string sid = reply.sid;
    sid.erase(
        std::remove_if(sid.begin(), sid.end(), [](unsigned char c) { return !std::isalnum(c); }),
        sid.end());
    std::string note = keyword_note(keyword);
    std::string subject = "SMS reply from " + log::number(number);
    if (!keyword.empty()) subject += " (" + keyword + ")";
    std::string mail = "From: <" + from + ">\nTo: <" + printable(to) + ">\nSubject: " + subject +
                       "\nDate: " + rfc2822_date(now) + "\nMessage-ID: <" + sid + "." +
                       std::to_string(now) + "@" + domain + ">\n";
    std::string mid = well_formed_message_id(alert.message_id);
    if (!mid.empty()) mail += "In-Reply-To: " + mid + "\nReferences: " + mid + "\n";
    if (!keyword.empty()) mail += "X-SMS-Keyword: " + keyword + "\n";
    mail +=
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n" +
        display_text(reply.body, kMaxReplyChars, "") + "\n\n-- \n";
    if (!note.empty()) mail += note + "\n";
    mail += fmt::format(
        "SMS from {} to {} at {},\nin reply to the SMS sent at {} (queue ID {}, job {}),\n"
        "relayed by sms-milter.\n",
        log::number(number), log::number(reply.to), utc_time(reply.at), utc_time(alert.sent_at),
        printable(alert.queue_id, 32), alert.job);
    return mail;
}

}  // namespace smsm
