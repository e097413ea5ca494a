// The one logging facade: Postfix-style lines to syslog (facility mail) or stderr.
#include "shared/base/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "shared/base/mask.h"
#include "shared/base/strings.h"

namespace smsm::log {

namespace {
std::atomic<bool> g_syslog{false};
std::atomic<bool> g_silent{false};
std::atomic<bool> g_full_numbers{false};
std::atomic<bool> g_starting{true};
std::mutex g_stderr_mutex;

const char* prefix(Level l) {
    switch (l) {
        case Level::Info:
            return "";
        case Level::Warning:
            return "warning: ";
        case Level::Error:
            return "error: ";
        case Level::Fatal:
            return "fatal: ";
        case Level::Panic:
            return "panic: ";
    }
    return "";
}

int priority(Level l) {
    switch (l) {
        case Level::Info:
            return LOG_INFO;
        case Level::Warning:
            return LOG_WARNING;
        case Level::Error:
            return LOG_ERR;
        case Level::Fatal:
            return LOG_CRIT;
        case Level::Panic:
            return LOG_CRIT;
    }
    return LOG_INFO;
}
}  // namespace

void init(LogTo to, bool full_numbers) {
    g_full_numbers = full_numbers;
    bool want_syslog = to == LogTo::Syslog;
    if (want_syslog && !g_syslog) openlog("sms-milter", LOG_PID | LOG_NDELAY, LOG_MAIL);
    g_syslog = want_syslog;
    g_silent = to == LogTo::Nowhere;
}

void started() {
    g_starting = false;
}

void write(Level level, std::string_view qid, std::string_view text) {
    if (g_silent) return;
    std::string line = qid.empty()
                           ? fmt::format("{}{}", prefix(level), text)
                           : fmt::format("{}: {}{}", printable(qid, 32), prefix(level), text);
    if (g_syslog) {
        syslog(priority(level), "%s", line.c_str());
        bool mirror = level >= Level::Fatal || (g_starting && level >= Level::Error);
        if (!mirror) return;
    }
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    struct tm tm {};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::lock_guard lock(g_stderr_mutex);
    fmt::print(stderr, "{}.{:03}Z sms-milter[{}]: {}\n", stamp, ms, ::getpid(), line);
    std::fflush(stderr);
}

std::string number(std::string_view e164) {
    return g_full_numbers ? printable(e164) : mask_number(e164);
}

std::string address(std::string_view addr) {
    return g_full_numbers ? printable(addr) : mask_address(addr);
}

}  // namespace smsm::log
