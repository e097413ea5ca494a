// The sender_rules file: parsing and matching (see sender_rules.h).
#include "shared/policy/sender_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "shared/base/strings.h"
#include "shared/base/syntax.h"
#include "shared/config/table_file.h"
#include "shared/policy/aliases.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxRules = 10000;

// "*", "<>", "@domain" or "local@domain" (lowercase domain; no white space or <> in the
// local part).
bool valid_sender(std::string_view s) {
    if (s == "*" || s == "<>") return true;
    auto at = s.find('@');
    if (at == std::string_view::npos) return false;
    std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
    return local.find_first_of("@<> \t\r\n\f\v") == std::string_view::npos && is_dns_name(domain) &&
           to_lower(domain) == domain;
}

// "+PREFIX*": '+', up to 15 digits, '*'.
bool is_prefix_pattern(std::string_view s) {
    return s.size() >= 2 && s.size() <= 17 && s.front() == '+' && s.back() == '*' &&
           std::all_of(s.begin() + 1, s.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
}

// One destination pattern; sets error when it is not one.
SenderRule::Destination parse_destination(const std::string& item, const AliasTable* aliases,
                                          std::string& error) {
    using Kind = SenderRule::Destination::Kind;
    if (item == "*") return {Kind::Any, ""};
    if (is_e164(item)) return {Kind::Number, item};
    if (is_prefix_pattern(item)) return {Kind::Prefix, item.substr(0, item.size() - 1)};
    std::string name = to_lower(item);
    if (item.front() == '+' || item.front() == '*' || (item.front() >= '0' && item.front() <= '9'))
        error = fmt::format("\"{}\" is not +E164, +PREFIX*, * or an alias name", printable(item));
    else if (!aliases || !aliases->find(name))
        error = fmt::format("\"{}\" is not an alias of the aliases file", printable(item));
    return {Kind::Alias, name};
}

}  // namespace

bool SenderRule::allows(std::string_view e164, std::string_view alias) const {
    using Kind = Destination::Kind;
    return std::any_of(destinations.begin(), destinations.end(), [&](const Destination& d) {
        if (!alias.empty()) return d.kind == Kind::Alias && d.value == alias;
        switch (d.kind) {
            case Kind::Any:
                return true;
            case Kind::Number:
                return d.value == e164;
            case Kind::Prefix:
                return e164.substr(0, d.value.size()) == d.value;
            case Kind::Alias:
                return false;
        }
        return false;
    });
}

const SenderRule* SenderRules::match(std::string_view sender) const {
    auto at = sender.rfind('@');
    std::string_view domain = at == std::string_view::npos ? "" : sender.substr(at);
    for (const auto& r : rules) {
        if (r.sender == "*" || (r.sender == "<>" && sender.empty()) ||
            (!sender.empty() && (r.sender == sender || (!domain.empty() && r.sender == domain))))
            return &r;
    }
    return nullptr;
}

SenderRules load_sender_rules(const std::string& path, const AliasTable* aliases,
                              std::vector<std::string>& errors) {
    SenderRules out;
    out.source = path;
    int lineno = 0;
    bool continuable = false;
    auto add_destinations = [&](std::string_view text, SenderRule& rule) {
        for (const auto& item : split_list(text)) {
            std::string error;
            auto d = parse_destination(item, aliases, error);
            if (!error.empty())
                errors.push_back(fmt::format("{}:{}: {}", path, lineno, error));
            else
                rule.destinations.push_back(std::move(d));
        }
    };
    read_table_file(path, kMaxFileBytes, errors, [&](const TableLine& l) {
        lineno = l.number;
        if (l.continuation) {
            if (!continuable)
                errors.push_back(
                    fmt::format("{}:{}: continuation line without a rule", path, lineno));
            else
                add_destinations(l.text, out.rules.back());
            return true;
        }
        continuable = false;
        auto space = l.text.find_first_of(" \t");
        std::string sender = to_lower(l.text.substr(0, space));
        std::string_view rest = space == std::string_view::npos ? "" : l.text.substr(space);
        if (!valid_sender(sender)) {
            errors.push_back(
                fmt::format("{}:{}: \"{}\" is not a sender pattern (user@domain, @domain, <> or *)",
                            path, lineno, printable(sender)));
            return true;
        }
        if (out.rules.size() >= kMaxRules) {
            errors.push_back(fmt::format("{}:{}: more than {} rules", path, lineno, kMaxRules));
            return false;
        }
        SenderRule rule;
        rule.line = lineno;
        rule.sender = sender;
        add_destinations(rest, rule);
        out.rules.push_back(std::move(rule));
        continuable = true;
        return true;
    });
    return out;
}

}  // namespace smsm
