// The outbox's files in state_directory; see outbox_files.h.
#include "shared/delivery/outbox_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "shared/base/log.h"

namespace smsm {

namespace {

constexpr mode_t kPrivate = 0600;
constexpr const char* kCompanions[] = {"-wal", "-shm", "-journal"};

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
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
    : dir_(state_directory), db_(state_directory + "/outbox.db") {
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
}

}  // namespace smsm
