// The one logging facade: Postfix-style lines with severities (info, warning, error, fatal,
// panic), to syslog (facility mail) or stderr, tagged with the MTA queue ID where there is one.
// With syslog, fatal and panic lines, and errors until started(), go to stderr as well: a
// daemon that cannot start must say why even where no syslog daemon listens.
//
// Security: callers pass phone numbers through log::number() and untrusted text through
// printable(); secrets are never handed to this module.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace smsm {

enum class LogTo {
    Syslog,
    Stderr,
    Nowhere,  // not configurable: for commands like `render` that print their own results
};

}  // namespace smsm

namespace smsm::log {

enum class Level { Info, Warning, Error, Fatal, Panic };

// The queue ID a line is about ("NOQUEUE" before Postfix assigned one).
struct Qid {
    std::string_view id;
};

void init(LogTo to, bool full_numbers);
// Start-up is over (the daemon serves): from now on only fatal and panic are mirrored.
void started();
void write(Level level, std::string_view qid, std::string_view text);

// A phone number as it may appear in a log line: masked unless log_full_numbers = yes.
std::string number(std::string_view e164);
// An SMS recipient address, masked the same way.
std::string address(std::string_view addr);

template <typename... A>
void info(fmt::format_string<A...> f, A&&... a) {
    write(Level::Info, {}, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warning(fmt::format_string<A...> f, A&&... a) {
    write(Level::Warning, {}, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void error(fmt::format_string<A...> f, A&&... a) {
    write(Level::Error, {}, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void fatal(fmt::format_string<A...> f, A&&... a) {
    write(Level::Fatal, {}, fmt::format(f, std::forward<A>(a)...));
}

template <typename... A>
void info(Qid q, fmt::format_string<A...> f, A&&... a) {
    write(Level::Info, q.id.empty() ? "NOQUEUE" : q.id, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warning(Qid q, fmt::format_string<A...> f, A&&... a) {
    write(Level::Warning, q.id.empty() ? "NOQUEUE" : q.id, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void error(Qid q, fmt::format_string<A...> f, A&&... a) {
    write(Level::Error, q.id.empty() ? "NOQUEUE" : q.id, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace smsm::log
