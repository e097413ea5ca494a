// Failure notices: when an SMS fails for good and failure_notice is set, a short mail to the
// envelope sender or a configured address, piped to sendmail_command.
//
// Security and loops: the notice goes out with the null sender (no bounce of a bounce), never
// to the null sender and never into a gateway domain; the text of the SMS is quoted cut to 160
// characters, line by line, with control characters masked (display_text); the rest is
// made printable.
#pragma once

#include <string>

#include "shared/config/config.h"
#include "shared/outbox/outbox.h"

namespace smsm {

// The recipient of a notice for this job, or empty when none is to be sent.
std::string notice_recipient(const Config& cfg, const Job& job);

// The whole notice mail (headers and body) for the job and reason.
std::string compose_notice(const Job& job, const std::string& reason, const std::string& to);

// Sends a notice when configured; returns false (and logs) when sendmail failed.
bool send_failure_notice(const Config& cfg, const Job& job, const std::string& reason);

// Pipes one mail to sendmail_command with the null envelope sender, for `to` (a bare
// address); true when sendmail took it (exited 0 within 30 s). Also for replies
// (shared/status/reply_mail.h).
bool pipe_to_sendmail(const Config& cfg, const std::string& to, const std::string& mail);

}  // namespace smsm
