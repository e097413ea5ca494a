// What the daemon's user can reach, for `sms-milter check`. Run as root, check would read
// every file and say ok while the daemon, running as its own user, fails with "Permission
// denied". So check finds that user (run_as_user, else the system user sms-milter) and a
// child process that has become it tries what the daemon will do: read the config, the
// secret files and the CA file, write the state directory and the outbox, create the unix
// socket (unless root binds it before the drop), run sendmail_command for notices.
#pragma once

#include <string>
#include <vector>

#include "shared/config/config.h"

namespace smsm {

struct AccessReport {
    std::string user;                   // empty: no user to check as (root, no such user)
    std::vector<std::string> problems;  // "FILE: not readable by user NAME (reason)"
    std::vector<std::string> warnings;  // e.g. a state directory not created yet
};

// As root: checks as the daemon's user in a child process; otherwise as the current user.
// `user` (check --user NAME) names the daemon's user instead; root can name anyone, others
// only themselves (std::invalid_argument otherwise).
AccessReport check_daemon_access(const Config& cfg, const std::string& user = {});

}  // namespace smsm
