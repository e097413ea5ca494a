// Reading a file in Postfix main.cf syntax into (key, value, line) entries.
#include "shared/config/config_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "shared/base/strings.h"

namespace smsm {

namespace {
constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kMaxValue = 64 * 1024;  // continuation lines included
constexpr int kMaxLines = 100000;
}  // namespace

std::string not_a_plain_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return "";
    return S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file";
}

std::vector<ConfigEntry> read_config_entries(const std::string& path,
                                             std::vector<std::string>& errors) {
    std::vector<ConfigEntry> entries;
    if (auto problem = not_a_plain_file(path); !problem.empty()) {
        errors.push_back(fmt::format("{}: {}", path, problem));
        return entries;
    }
    std::ifstream in(path);
    if (!in) {
        errors.push_back(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
        return entries;
    }
    std::string line;
    int lineno = 0;
    bool continuable = false;  // whether a continuation line may extend the last entry
    bool too_long = false;     // the last entry's value went past kMaxValue
    while (std::getline(in, line)) {
        if (++lineno > kMaxLines || line.size() > kMaxLine) {
            errors.push_back(fmt::format("{}:{}: file or line too long", path, lineno));
            break;
        }
        std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;  // a comment does not end an entry
        if (line.front() == ' ' || line.front() == '\t') {
            if (!continuable) {
                errors.push_back(
                    fmt::format("{}:{}: continuation line without a setting", path, lineno));
                continue;
            }
            auto& value = entries.back().value;
            if (too_long || value.size() + 1 + content.size() > kMaxValue) {
                if (!too_long)
                    errors.push_back(fmt::format("{}:{}: {}: value longer than {} bytes", path,
                                                 entries.back().line, entries.back().key,
                                                 kMaxValue));
                too_long = true;  // one error for the whole setting
                continue;
            }
            value += value.empty() ? "" : " ";
            value += content;
            continue;
        }
        auto eq = content.find('=');
        std::string_view key = trim(content.substr(0, eq));
        if (eq == std::string_view::npos || key.empty() ||
            key.find_first_of(" \t") != std::string_view::npos) {
            errors.push_back(fmt::format("{}:{}: expected \"key = value\"", path, lineno));
            continuable = false;
            continue;
        }
        entries.push_back({std::string(key), std::string(trim(content.substr(eq + 1))), lineno});
        continuable = true;
        too_long = false;
    }
    return entries;
}

}  // namespace smsm
