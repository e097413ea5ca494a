// Dropping root after the socket is bound, and keeping secrets out of core dumps; see
// privileges.h.
#include "milter/privileges.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace smsm {

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
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

void give_to(const RunAs& user, const std::string& path) {
    if (::chown(path.c_str(), user.uid, user.gid) != 0) fail("chown " + path);
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
