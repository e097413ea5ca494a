// Reading a table file (aliases, sender_rules): one entry per line, '#' comment lines and blank
// lines skipped, a line starting with white space continues the entry before it, the whole
// file bounded in size. The caller parses what each line says; errors are "FILE:LINE: text".
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace smsm {

struct TableLine {
    int number = 0;
    std::string_view text;      // trimmed
    bool continuation = false;  // began with white space
};

// Calls on_line for each entry or continuation line until it returns false or the file ends.
// An unreadable file, or one larger than max_bytes, is an error (reading stops there).
void read_table_file(const std::string& path, std::size_t max_bytes,
                     std::vector<std::string>& errors,
                     const std::function<bool(const TableLine&)>& on_line);

}  // namespace smsm
