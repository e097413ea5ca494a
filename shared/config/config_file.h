// Reading a file in Postfix main.cf syntax into (key, value, line) entries.
#pragma once

#include <string>
#include <vector>

namespace smsm {

struct ConfigEntry {
    std::string key;
    std::string value;
    int line = 0;
};

// Why a file cannot be read as a config or table file without blocking: "" when it can be
// opened (or does not exist: opening it says so), else e.g. "is not a regular file" (a FIFO
// would block the open until someone writes to it).
std::string not_a_plain_file(const std::string& path);

// `key = value`; '#' starts a comment line; a line starting with white space continues the
// previous one. Syntax errors are appended to errors as "FILE:LINE: text".
std::vector<ConfigEntry> read_config_entries(const std::string& path,
                                             std::vector<std::string>& errors);

}  // namespace smsm
