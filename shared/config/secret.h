// Reading secret files (Twilio auth token, API key secret).
//
// Security: a secret file must be a regular file (opened without following a symbolic link
// and without blocking, so a FIFO or device fails at once instead of hanging start-up) that
// group and others cannot access, owned by a trusted user: root, the user reading it, or the
// daemon's user when root reads it on that user's behalf. Every directory above it must
// belong to a trusted user too and must not be writable by group or others unless it has the
// sticky bit (as /tmp): otherwise someone else could swap the file. The content is never
// logged and error messages name only the file.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace smsm {

// Returns the first line of the file, trimmed. Throws std::runtime_error with a message
// naming the file (never its content) when it is missing, not a regular file, not private,
// empty or too large, or when it or a directory above it is not safe as said above.
// `daemon_user`: the uid the daemon runs as, trusted besides root and the reading user.
std::string read_secret_file(const std::string& path,
                             std::optional<uid_t> daemon_user = std::nullopt);

}  // namespace smsm
