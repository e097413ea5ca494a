// What the daemon's user can reach, for `sms-milter check` (see check_access.h).
//
// Security: the child drops privileges exactly as `run` does (initgroups, setgid, setuid,
// verified) before it touches anything, and only opens files for reading and calls access();
// it creates nothing. It reports over a pipe, one line per finding; it never reads secrets.
#include "milter/check_access.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "milter/privileges.h"
#include "shared/config/milter_socket.h"

namespace smsm {

namespace {

constexpr const char* kServiceUser = "sms-milter";  // the unit's User= and the package's user

std::string parent_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

bool user_exists(const char* name) {
    return ::getpwnam(name) != nullptr;
}

// Runs in the process that has the daemon's identity. root_creates: the daemon starts as root
// with run_as_user, so root makes the state directory and the socket before the drop.
void check_as_current(const Config& cfg, const std::string& user, bool root_creates,
                      AccessReport& r) {
    auto problem = [&](const std::string& path, std::string_view what) {
        r.problems.push_back(
            fmt::format("{}: {} by user {} ({})", path, what, user, std::strerror(errno)));
    };
    for (const std::string* file :
         {&cfg.source, &cfg.twilio_auth_token_file, &cfg.twilio_api_key_secret_file,
          &cfg.twilio_ca_file, &cfg.aliases_file, &cfg.sender_rules_file}) {
        if (file->empty()) continue;
        int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            problem(*file, "not readable");
        else
            ::close(fd);
    }

    const std::string& dir = cfg.state_directory;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
            if (!root_creates) problem(dir, "state_directory not writable");  // else chowned
        } else if (!root_creates) {  // else root gives the outbox files to the user too
            for (const char* name : {"outbox.db", "outbox.db-wal", "outbox.db-shm"}) {
                std::string file = dir + "/" + name;
                if (::access(file.c_str(), F_OK) == 0 && ::access(file.c_str(), R_OK | W_OK) != 0)
                    problem(file, "not writable");
            }
        }
    } else if (errno != ENOENT) {
        problem(dir, "state_directory not reachable");
    } else if (!root_creates && ::access(parent_of(dir).c_str(), W_OK | X_OK) != 0) {
        r.warnings.push_back(fmt::format(
            "{}: state_directory does not exist, and user {} cannot create it ({}); the package "
            "and systemd's StateDirectory= create it",
            dir, user, std::strerror(errno)));
    }

    if (auto socket = unix_socket_path(cfg.milter_socket); !socket.empty() && !root_creates) {
        std::string sockdir = parent_of(socket);
        if (::access(sockdir.c_str(), W_OK | X_OK) != 0) {
            if (errno == ENOENT)
                r.warnings.push_back(fmt::format(
                    "{}: the milter socket's directory does not exist; the package or systemd's "
                    "RuntimeDirectory= creates it",
                    sockdir));
            else
                problem(sockdir, "cannot create the milter socket here: not writable");
        }
    }

    if (!cfg.failure_notice.empty() && !cfg.sendmail_command.empty() &&
        ::access(cfg.sendmail_command.front().c_str(), X_OK) != 0)
        problem(cfg.sendmail_command.front(), "not executable");
}

// Forks; the child becomes `user` and reports its findings over a pipe.
void check_as(const Config& cfg, const RunAs& user, bool root_creates, AccessReport& r) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        r.problems.push_back(
            fmt::format("cannot check as user {}: pipe: {}", user.name, std::strerror(errno)));
        return;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        std::string out;
        try {
            drop_privileges(user);
            AccessReport mine;
            check_as_current(cfg, user.name, root_creates, mine);
            for (const auto& p : mine.problems) out += "P" + p + "\n";
            for (const auto& w : mine.warnings) out += "W" + w + "\n";
        } catch (const std::exception& e) {
            out = fmt::format("Pcannot become user {}: {}\n", user.name, e.what());
        }
        for (std::size_t done = 0; done < out.size();) {
            ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        r.problems.push_back(
            fmt::format("cannot check as user {}: fork: {}", user.name, std::strerror(errno)));
        return;
    }
    std::string in;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        in.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r.problems.push_back(fmt::format("the check as user {} did not complete", user.name));
    for (std::size_t start = 0, end; (end = in.find('\n', start)) != std::string::npos;
         start = end + 1) {
        std::string line = in.substr(start + 1, end - start - 1);
        (in[start] == 'W' ? r.warnings : r.problems).push_back(line);
    }
}

}  // namespace

AccessReport check_daemon_access(const Config& cfg, const std::string& user) {
    AccessReport r;
    const struct passwd* me = ::getpwuid(::geteuid());
    std::string my_name = me ? me->pw_name : std::to_string(::geteuid());
    if (::geteuid() != 0 || user == my_name) {
        if (!user.empty() && user != my_name)
            throw std::invalid_argument(
                fmt::format("only root can check as another user than {}", my_name));
        r.user = my_name;
        check_as_current(cfg, r.user, false, r);
        return r;
    }
    if (!user.empty())
        r.user = user;
    else if (!cfg.run_as_user.empty())
        r.user = cfg.run_as_user;
    else if (user_exists(kServiceUser))
        r.user = kServiceUser;
    else
        return r;
    bool root_creates = !cfg.run_as_user.empty();
    struct stat st {};
    if (root_creates && ::lstat(cfg.state_directory.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        r.problems.push_back(
            fmt::format("{}: state_directory is a symbolic link: started as root with run_as_user, "
                        "sms-milter refuses it (it gives the state directory to user {}); set "
                        "state_directory to the directory itself",
                        cfg.state_directory, cfg.run_as_user));
    try {
        check_as(cfg, lookup_user(r.user), root_creates, r);
    } catch (const std::exception& e) {
        r.problems.push_back(fmt::format("cannot check as user {}: {}", r.user, e.what()));
    }
    return r;
}

}  // namespace smsm
