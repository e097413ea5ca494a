// Table files: bounded, line by line, comments and continuations.
#include "shared/config/table_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "shared/base/strings.h"
#include "shared/config/config_file.h"

namespace smsm {

void read_table_file(const std::string& path, std::size_t max_bytes,
                     std::vector<std::string>& errors,
                     const std::function<bool(const TableLine&)>& on_line) {
    if (auto problem = not_a_plain_file(path); !problem.empty()) {
        errors.push_back(fmt::format("{}: {}", path, problem));
        return;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        errors.push_back(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
        return;
    }
    std::string line;
    std::size_t bytes = 0;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        bytes += line.size() + 1;
        if (bytes > max_bytes) {
            errors.push_back(
                fmt::format("{}:{}: file larger than {} bytes", path, number, max_bytes));
            return;
        }
        std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;
        bool continuation = line.front() == ' ' || line.front() == '\t';
        if (!on_line(TableLine{number, content, continuation})) return;
    }
}

}  // namespace smsm
