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

// `key = value`; '#' starts a comment line; a line starting with white space continues the
// previous one. Syntax errors are appended to errors as "FILE:LINE: text".
std::vector<ConfigEntry> read_config_entries(const std::string& path,
                                             std::vector<std::string>& errors);

}  // namespace smsm
