// Reading secret files (Twilio auth token, API key secret).
//
// Security: a secret file must be a regular file that group and others cannot access; the
// content is never logged and error messages name only the file.
#pragma once

#include <string>

namespace smsm {

// Returns the first line of the file, trimmed. Throws std::runtime_error with a message
// naming the file (never its content) when it is missing, not private, empty or too large.
std::string read_secret_file(const std::string& path);

}  // namespace smsm
