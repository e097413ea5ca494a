// Dropping root after the socket is bound, handing the daemon's files to its user first, and
// keeping secrets out of core dumps; see privileges.h.
//
// Security: root changes owners only through a descriptor or with fchownat(...,
// AT_SYMLINK_NOFOLLOW), never by a path that may end in a symbolic link: a link planted where
// the state directory, an outbox file or the socket should be would otherwise make root give
// the link's target (/etc, /etc/shadow) to the service user.
#include "milter/privileges.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace smsm {

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// A descriptor closed at the end of the scope.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// What the outbox keeps in the state directory (shared/outbox/outbox_files.h).
constexpr const char* kStateFiles[] = {"outbox.db", "outbox.db-wal", "outbox.db-shm",
                                       "outbox.db-journal", "outbox.created"};

[[noreturn]] void refuse_link(const RunAs& user, const std::string& dir) {
    char real[PATH_MAX];
    std::string hint = ::realpath(dir.c_str(), real) ? fmt::format(" ({})", real) : "";
    throw std::runtime_error(fmt::format(
        "state_directory {} is a symbolic link: started as root with run_as_user, sms-milter "
        "gives the state directory to user {} and will not follow a link to do so; set "
        "state_directory to the directory itself{}",
        dir, user.name, hint));
}

}  // namespace

RunAs lookup_user(const std::string& name) {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || !found) throw std::runtime_error(fmt::format("no user \"{}\"", name));
    return RunAs{name, pw.pw_uid, pw.pw_gid};
}

// A symbolic link as state_directory is refused rather than followed or changed itself: the
// daemon needs the directory, not the link, to be its user's, and a link that root follows
// is the attack. O_NOFOLLOW makes the check and the fchown act on the same directory. The
// files are given away before the directory: while the directory is still root's, nobody
// else can swap them. Hard-linked files are refused (a hard link to a file of root's would
// give that file away); symbolic links and other non-regular files are left alone (the
// outbox refuses them when it opens them as the user).
void give_state_directory(const RunAs& user, const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) refuse_link(user, dir);
    Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (d.fd < 0) {
        if (errno == ELOOP) refuse_link(user, dir);
        fail("state_directory " + dir);
    }
    for (const char* name : kStateFiles) {
        std::string path = dir + "/" + name;
        if (::fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            fail(path);
        }
        if (!S_ISREG(st.st_mode)) continue;
        if (st.st_nlink > 1)
            throw std::runtime_error(fmt::format(
                "{} has {} hard links: sms-milter will not give it to user {}; copy it to a "
                "file of its own",
                path, st.st_nlink, user.name));
        if (::fchownat(d.fd, name, user.uid, user.gid, AT_SYMLINK_NOFOLLOW) != 0)
            fail("chown " + path);
    }
    if (::fchown(d.fd, user.uid, user.gid) != 0) fail("chown " + dir);
}

// libmilter creates, binds and listens in smfi_opensocket(), so the socket cannot be given
// away through its descriptor before it is reachable (and fchown on a socket descriptor
// changes the socket, not the file). Instead:
// - root creates it under umask 0117 (mode 0660, root's group): until the chown below only
//   root and root's group can connect, so the window fails closed;
// - the chown goes by name relative to the directory's descriptor, without following a
//   symbolic link, and only to a socket that root owns. Only who can write the directory
//   (root, or its owner: /run/sms-milter and /var/spool/postfix/sms-milter are 0750) could
//   swap the entry in between; a symbolic link swapped in has only its own owner changed,
//   and fs.protected_hardlinks (on by default) keeps others from hard-linking files they
//   could not already read and write.
void give_socket(const RunAs& user, const std::string& path) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) fail("socket directory " + dir);
    struct stat st {};
    if (::fstatat(d.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail(path);
    if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid())
        throw std::runtime_error(
            fmt::format("{} is no longer the socket sms-milter created: not giving it to user {}",
                        path, user.name));
    if (::fchownat(d.fd, name.c_str(), user.uid, user.gid, AT_SYMLINK_NOFOLLOW) != 0)
        fail("chown " + path);
}

void drop_privileges(const RunAs& user) {
    if (::initgroups(user.name.c_str(), user.gid) != 0) fail("initgroups");
    if (::setgid(user.gid) != 0) fail("setgid");
    if (::setuid(user.uid) != 0) fail("setuid");
    bool dropped = ::getuid() == user.uid && ::geteuid() == user.uid && ::getgid() == user.gid &&
                   ::getegid() == user.gid && (user.uid == 0 || ::setuid(0) != 0);
    if (!dropped) throw std::runtime_error("privileges were not dropped");
    // A change of uid resets "dumpable" to fs.suid_dumpable, which may be 1 or 2.
    if (!forbid_core_dumps()) fail("cannot keep the secrets out of core dumps");
}

// Not dumpable also keeps other processes of the same user from ptrace and from reading
// /proc/PID/mem or /proc/PID/environ: the service user's other processes (sendmail_command,
// `sms-milter queue`) cannot read the token from the daemon's memory.
bool forbid_core_dumps() {
    struct rlimit none {};
    return ::setrlimit(RLIMIT_CORE, &none) == 0 && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
}

}  // namespace smsm
