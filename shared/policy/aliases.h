// The aliases file (aliases = FILE): "name: +E164, +E164, other-alias" lines, so that
// oncall@sms.example.com texts every number of the on-call team. Nested aliases are resolved
// when the file is loaded (with the config, again on SIGUSR1); loops, unknown aliases and bad
// numbers are errors with FILE:LINE.
//
// Security: the file is trusted (root-owned next to the config) but still bounded: at most
// 1 MiB, 10000 aliases, and kMaxAliasNumbers numbers per alias once resolved.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/policy/phone.h"

namespace smsm {

inline constexpr std::size_t kMaxAliasNumbers = 1000;

struct AliasTable {
    // lower-case name -> its distinct numbers, nested aliases resolved, in file order
    std::map<std::string, std::vector<PhoneNumber>, std::less<>> entries;

    // The numbers of an alias (name compared without regard to case), or null.
    const std::vector<PhoneNumber>* find(std::string_view name) const;
};

// Whether a number may be listed (allowed_countries, allowed_number_types): empty when it
// may, otherwise why not.
using NumberCheck = std::function<std::string(const PhoneNumber&)>;

// Reads and resolves the file. Numbers not in +E.164 form are read in default_region. Errors
// are appended as "FILE:LINE: text"; the table holds whatever could be resolved.
AliasTable load_aliases(const std::string& path, const std::string& default_region,
                        const NumberCheck& check, std::vector<std::string>& errors);

}  // namespace smsm
