// The outbox's files in state_directory; see outbox_files.h.
#include "shared/outbox/outbox_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "shared/base/log.h"

namespace smsm {

namespace {

constexpr mode_t kPrivate = 0600;
constexpr const char* kCompanions[] = {"-wal", "-shm", "-journal"};
constexpr int kQuickCheckLines = 3;  // of its findings, in the error

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// The size of a file (not following a link); nullopt when there is none.
std::optional<off_t> size_of(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return st.st_size;
    if (errno != ENOENT) fail(path);
    return std::nullopt;
}

// An existing regular file that group or others may access becomes 0600. Never follows a
// link (a link is left to SQLite, which opens it as the daemon's user). The descriptor is
// closed before SQLite opens the file in this process, so no SQLite lock is lost with it.
void make_private(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        fail(path);
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return;
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || ::fchmod(fd, kPrivate) != 0) {
        log::warning("outbox: {} is mode {:04o}, readable by others, and stays so: {}", path,
                     st.st_mode & 07777, std::strerror(errno));
    } else {
        log::warning("outbox: {} was mode {:04o}; now 0600", path, st.st_mode & 07777);
    }
    if (fd >= 0) ::close(fd);
}

}  // namespace

OutboxFiles::OutboxFiles(const std::string& state_directory)
    : dir_(state_directory),
      db_(state_directory + "/outbox.db"),
      marker_(state_directory + "/outbox.created") {
    std::string way_out = fmt::format(
        "sms-milter will not start with an empty outbox unasked: restore outbox.db from a "
        "backup, or delete {} to start with an empty outbox",
        marker_);
    marked_ = size_of(marker_).has_value();
    auto db_size = size_of(db_);
    if (marked_ && !db_size)
        throw std::runtime_error(fmt::format(
            "{} is missing, but {} says an outbox was made here: the SMS queued in it are lost "
            "(a deleted or moved file?); {}",
            db_, marker_, way_out));
    if (marked_ && *db_size == 0)
        throw std::runtime_error(fmt::format(
            "{} is empty (0 bytes), but {} says an outbox was made here: the SMS queued in it are "
            "lost (a truncated or replaced file?); {}",
            db_, marker_, way_out));
    if (auto wal = size_of(db_ + "-wal"); (!db_size || *db_size == 0) && wal && *wal > 0)
        throw std::runtime_error(fmt::format(
            "{} is {}, but {}-wal holds {} bytes of it: the rest of an outbox whose database is "
            "lost; restore outbox.db from a backup, or delete {}-wal to start with an empty "
            "outbox",
            db_, db_size ? "empty (0 bytes)" : "missing", db_, *wal, db_));

    if (::mkdir(dir_.c_str(), 0700) == 0) {
        if (::chmod(dir_.c_str(), 0700) != 0) fail(dir_);  // a umask may have taken more
    } else if (errno != EEXIST) {
        fail(dir_);
    }
    int fd = ::open(db_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kPrivate);
    if (fd >= 0) {
        int err = ::fchmod(fd, kPrivate) == 0 ? 0 : errno;  // whatever the umask
        ::close(fd);
        errno = err;
        if (err != 0) fail(db_);
    } else if (errno == EEXIST) {
        make_private(db_);
    } else {
        fail(db_);
    }
    for (const char* suffix : kCompanions) make_private(db_ + suffix);
    make_private(marker_);
}

void OutboxFiles::check(sqlite3* db) const {
    std::string found;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, nullptr);
    if (rc == SQLITE_OK) {
        int lines = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            std::string line = text ? text : "";
            std::replace(line.begin(), line.end(), '\n', ' ');  // one log line
            if (line != "ok" && ++lines <= kQuickCheckLines)
                found += (found.empty() ? "" : "; ") + line;
        }
    }
    if (rc != SQLITE_DONE && found.empty()) found = sqlite3_errmsg(db);
    sqlite3_finalize(st);
    if (!found.empty())
        throw std::runtime_error(fmt::format(
            "{} is damaged (SQLite's quick_check: {}): sms-milter will not start on it; keep a "
            "copy of {}, then recover what you can into a new outbox.db (sqlite3's .recover), "
            "or move outbox.db aside and delete {} to start with an empty outbox",
            db_, found, dir_, marker_));
    if (!marked_) return;
    bool tables = false;
    rc = sqlite3_prepare_v2(
        db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'", -1, &st, nullptr);
    if (rc == SQLITE_OK) tables = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!tables)
        throw std::runtime_error(fmt::format(
            "{} holds no outbox (no jobs table), but {} says an outbox was made here: the SMS "
            "queued in it are lost (a replaced file?); restore outbox.db from a backup, or "
            "delete {} to start with an empty outbox",
            db_, marker_, marker_));
}

void OutboxFiles::mark_created() const {
    if (marked_) return;
    int fd =
        ::open(marker_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kPrivate);
    if (fd < 0) {
        if (errno == EEXIST) return;
        fail(marker_);
    }
    std::string text = fmt::format(
        "sms-milter made its outbox here ({}).\n"
        "While this file exists, sms-milter refuses to start when outbox.db is missing or\n"
        "empty, instead of starting with the queued SMS lost. Delete this file to start with\n"
        "an empty outbox.\n",
        db_);
    bool ok = ::fchmod(fd, kPrivate) == 0 &&
              ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    errno = err;
    if (!ok) fail(marker_);
    int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // the new entry too
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

}  // namespace smsm
