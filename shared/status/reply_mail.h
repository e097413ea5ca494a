// SMS replies mailed back (SPEC §9, reply_forwarding = yes): who gets a reply and the mail
// that carries it, as carrier gateways did: From <E.164>@<first gateway domain>, to the
// envelope sender of the alert it answers, threaded under that alert (In-Reply-To and
// References: its Message-ID).
//
// Security and loops: the mail goes out with the null envelope sender (no bounce, and no
// vacation auto-reply, comes back); never to the null sender, never into a gateway or carrier
// domain; the reply's text is untrusted: control characters masked (display_text), headers
// built only from checked values (numbers, SIDs, a well-formed Message-ID).
#pragma once

#include <string>
#include <string_view>

#include "shared/config/config.h"
#include "shared/outbox/outbox.h"
#include "shared/twilio/message_status.h"

namespace smsm {

// "<id@host>" when the header value is one Message-ID of printable ASCII without blanks
// (comments and surrounding blanks dropped), at most 250 characters; otherwise empty.
std::string well_formed_message_id(std::string_view value);

// Where a reply to an alert from `sender` is mailed: that address; or empty, with the reason
// in `why` (the null sender, not an address, a gateway or carrier domain).
std::string reply_recipient(const Config& cfg, const std::string& sender, std::string& why);

// The whole mail. keyword: reply_keyword() of the text (STOP, START, HELP or empty); now:
// unix seconds for its Date header.
std::string compose_reply(const Config& cfg, const InboundMessage& reply, const ReplyTarget& alert,
                          const std::string& to, const std::string& keyword, std::int64_t now);

}  // namespace smsm
