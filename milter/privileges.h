// Dropping root after the socket is bound: initgroups, setgid, setuid, in that order, and
// the drop verified (setuid(0) must fail afterwards). Before the drop, root hands the state
// directory, the outbox files and the unix socket to the user without following symbolic
// links. Once secrets are in memory the process is made non-dumpable (no core file, no
// ptrace or /proc/PID/mem by other processes of the same user).
#pragma once

#include <sys/types.h>

#include <string>

namespace smsm {

struct RunAs {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Looks the user up; throws std::runtime_error when there is no such user.
RunAs lookup_user(const std::string& name);

// Makes the state directory and the outbox files in it (outbox.db, its -wal, -shm and
// -journal, outbox.created) belong to the user. Throws std::runtime_error, changing nothing,
// when the directory is a symbolic link (root would otherwise give the link's target away).
void give_state_directory(const RunAs& user, const std::string& dir);

// Makes the unix socket that root has just bound belong to the user; throws
// std::runtime_error when the path is no longer a socket of root's.
void give_socket(const RunAs& user, const std::string& path);

// Throws std::runtime_error when any step fails or root can be regained. The process stays
// non-dumpable (the kernel resets that flag when the uid changes).
void drop_privileges(const RunAs& user);

// No core file (RLIMIT_CORE 0, soft and hard) and not dumpable: call once the secret files
// are read. False (errno set) when either step fails.
bool forbid_core_dumps();

}  // namespace smsm
