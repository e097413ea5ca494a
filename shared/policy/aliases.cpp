// The aliases file: parsing, nested aliases, loops (see aliases.h).
#include "shared/policy/aliases.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "shared/base/strings.h"
#include "shared/config/table_file.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxAliases = 10000;

struct Definition {
    int line = 0;
    std::vector<std::string> members;  // as written
};

// "oncall", "team-a", "db.ops": letters, digits, '.', '_' and '-', starting with a letter or
// digit and holding at least one letter, so that no alias name is ever a phone number.
bool valid_name(std::string_view name) {
    auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    return !name.empty() && name.size() <= 64 && (lower(name[0]) || digit(name[0])) &&
           std::all_of(
               name.begin(), name.end(),
               [&](char c) { return lower(c) || digit(c) || c == '.' || c == '_' || c == '-'; }) &&
           std::any_of(name.begin(), name.end(), lower);
}

// A member without letters is a number ("+14155550123", "415-555-0123"); one with letters
// names an alias.
bool looks_like_number(std::string_view member) {
    return std::none_of(member.begin(), member.end(),
                        [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

class Resolver {
  public:
    Resolver(const std::string& path, const std::map<std::string, Definition>& defs,
             const std::string& region, const NumberCheck& check, std::vector<std::string>& errors)
        : path_(path), defs_(defs), region_(region), check_(check), errors_(errors) {}

    // The numbers of `name`, resolved once; an alias in a loop or with errors resolves to
    // what could be resolved.
    const std::vector<PhoneNumber>& resolve(const std::string& name) {
        if (auto it = done_.find(name); it != done_.end()) return it->second;
        const Definition& def = defs_.at(name);
        stack_.push_back(name);
        std::vector<PhoneNumber> numbers;
        auto add = [&](const PhoneNumber& n) {
            bool seen = std::any_of(numbers.begin(), numbers.end(),
                                    [&](const PhoneNumber& m) { return m.e164 == n.e164; });
            if (!seen) numbers.push_back(n);
        };
        for (const auto& member : def.members) {
            std::string lower = to_lower(member);
            if (defs_.count(lower)) {
                if (auto loop = std::find(stack_.begin(), stack_.end(), lower);
                    loop != stack_.end()) {
                    std::string chain;
                    for (auto it = loop; it != stack_.end(); ++it) chain += *it + " -> ";
                    error(def.line, fmt::format("alias loop: {}{}", chain, lower));
                    continue;
                }
                for (const auto& n : resolve(lower)) add(n);
            } else if (looks_like_number(member)) {
                auto n = parse_phone(member, region_);
                if (!n) {
                    error(def.line, fmt::format("{}: \"{}\" is not a valid phone number", name,
                                                printable(member)));
                } else if (std::string why = check_ ? check_(*n) : ""; !why.empty()) {
                    error(def.line, fmt::format("{}: {}: {}", name, n->e164, why));
                } else {
                    add(*n);
                }
            } else {
                error(def.line, fmt::format("{}: \"{}\" is neither a phone number nor an alias",
                                            name, printable(member)));
            }
        }
        stack_.pop_back();
        if (numbers.size() > kMaxAliasNumbers) {
            error(def.line, fmt::format("{}: more than {} numbers", name, kMaxAliasNumbers));
            numbers.resize(kMaxAliasNumbers);
        }
        return done_.emplace(name, std::move(numbers)).first->second;
    }

  private:
    void error(int line, const std::string& text) {
        std::string e = fmt::format("{}:{}: {}", path_, line, text);
        if (std::find(errors_.begin(), errors_.end(), e) == errors_.end()) errors_.push_back(e);
    }
    const std::string& path_;
    const std::map<std::string, Definition>& defs_;
    const std::string& region_;
    const NumberCheck& check_;
    std::vector<std::string>& errors_;
    std::vector<std::string> stack_;
    std::map<std::string, std::vector<PhoneNumber>> done_;
};

}  // namespace

const std::vector<PhoneNumber>* AliasTable::find(std::string_view name) const {
    auto it = entries.find(to_lower(name));
    return it == entries.end() ? nullptr : &it->second;
}

AliasTable load_aliases(const std::string& path, const std::string& default_region,
                        const NumberCheck& check, std::vector<std::string>& errors) {
    AliasTable table;
    std::map<std::string, Definition> defs;
    std::vector<std::string> order;
    std::string current;
    read_table_file(path, kMaxFileBytes, errors, [&](const TableLine& l) {
        if (l.continuation) {  // continues the last alias
            if (current.empty())
                errors.push_back(
                    fmt::format("{}:{}: continuation line without an alias", path, l.number));
            else
                for (auto& m : split_list(l.text)) defs[current].members.push_back(m);
            return true;
        }
        current.clear();
        auto colon = l.text.find(':');
        std::string name = to_lower(trim(l.text.substr(0, colon)));
        if (colon == std::string_view::npos || !valid_name(name)) {
            errors.push_back(fmt::format(
                "{}:{}: expected \"name: +E164, +E164, other-alias\" (a name has letters, "
                "digits, '.', '_' or '-' and at least one letter)",
                path, l.number));
            return true;
        }
        if (auto it = defs.find(name); it != defs.end()) {
            errors.push_back(fmt::format("{}:{}: alias {} is already defined at line {}", path,
                                         l.number, name, it->second.line));
            return true;
        }
        if (defs.size() >= kMaxAliases) {
            errors.push_back(
                fmt::format("{}:{}: more than {} aliases", path, l.number, kMaxAliases));
            return false;
        }
        defs[name] = {l.number, split_list(l.text.substr(colon + 1))};
        order.push_back(name);
        current = name;
        return true;
    });
    Resolver resolver(path, defs, default_region, check, errors);
    for (const auto& name : order) {
        const auto& numbers = resolver.resolve(name);
        if (numbers.empty() && defs[name].members.empty())
            errors.push_back(
                fmt::format("{}:{}: alias {} has no members", path, defs[name].line, name));
        table.entries.emplace(name, numbers);
    }
    return table;
}

}  // namespace smsm
