// End of message, all of it (SPEC §5): the message's SMS jobs made durable, then, with
// eom_wait, Twilio's first answer to each awaited, and the reply decided. The jobs are
// watched from the moment they exist, inside the outbox's commit, so an answer that comes
// before end of message starts waiting is never missed. milter/callbacks.cpp only
// translates the outcome for libmilter.
#pragma once

#include <functional>
#include <string_view>

#include "shared/delivery/sender.h"
#include "shared/outbox/outbox.h"
#include "shared/session/session.h"

namespace smsm {

// sender: null when nothing sends (tests); progress: called about every 10 s while waiting
// (smfi_progress keeps the MTA's timer alive).
EomOutcome end_message(Message& message, std::string_view qid, Outbox& outbox, Sender* sender,
                       const std::function<void()>& progress);

}  // namespace smsm
