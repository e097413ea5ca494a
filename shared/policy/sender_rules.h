// The sender_rules file (sender_rules = FILE): which destinations each envelope sender may
// text. One rule per line, "sender-pattern  destination-pattern, ...":
//   sender-pattern       user@domain, @domain (the whole domain), <> (the null sender) or *
//   destination-pattern  +E164 (one number), +PREFIX* (a range, e.g. +1415*), * (any number),
//                        or an alias name (an alias is allowed only where it is named)
// The first rule whose sender pattern matches decides; a rule without destinations, and no
// rule at all, lets the sender text nobody. Errors are FILE:LINE; the file is read with the config
// (start, SIGUSR1).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smsm {

struct AliasTable;

struct SenderRule {
    int line = 0;
    std::string sender;  // lower case: "user@dom", "@dom", "<>" or "*"
    struct Destination {
        enum class Kind { Any, Number, Prefix, Alias } kind;
        std::string value;  // "+14155550123", "+1415" (without the *), or an alias name
    };
    std::vector<Destination> destinations;

    // Whether this rule lets its senders text the number, or the alias (when alias is set).
    bool allows(std::string_view e164, std::string_view alias) const;
};

struct SenderRules {
    std::string source;  // the file, for "FILE:LINE" in render and logs
    std::vector<SenderRule> rules;

    // The first rule for the envelope sender (bare address, lower case, "" for <>), or null.
    const SenderRule* match(std::string_view sender) const;
};

// Reads the file; alias names must exist in aliases (null: no aliases file). Errors are
// appended as "FILE:LINE: text".
SenderRules load_sender_rules(const std::string& path, const AliasTable* aliases,
                              std::vector<std::string>& errors);

}  // namespace smsm
