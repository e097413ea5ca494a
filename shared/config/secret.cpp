// Reading secret files (Twilio auth token, API key secret): see secret.h for the rules.
#include "shared/config/secret.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "shared/base/strings.h"

namespace smsm {

namespace {
constexpr std::size_t kMaxSecret = 4096;

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void refuse(const std::string& text) {
    throw std::runtime_error(text);
}

std::string user_name(uid_t uid) {
    const struct passwd* pw = ::getpwuid(uid);
    return pw ? fmt::format("{} (uid {})", pw->pw_name, uid) : fmt::format("uid {}", uid);
}

struct Trusted {
    std::vector<uid_t> uids;  // root, the reader, the daemon's user
    bool has(uid_t uid) const {
        for (uid_t u : uids)
            if (u == uid) return true;
        return false;
    }
    std::string names() const {
        std::string out = "root";
        for (uid_t u : uids)
            if (u != 0 && out.find(user_name(u)) == std::string::npos) out += " or " + user_name(u);
        return out;
    }
};

// Every directory from the file's up to "/", after resolving symbolic links.
void check_directories(const std::string& path, const Trusted& trusted) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    char resolved[PATH_MAX];
    if (!::realpath(dir.c_str(), resolved))
        refuse(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    for (std::string d = resolved;;) {
        struct stat st {};
        if (::stat(d.c_str(), &st) != 0)
            refuse(fmt::format("cannot check {} (above {}): {}", d, path, std::strerror(errno)));
        if (!trusted.has(st.st_uid))
            refuse(fmt::format("{} lies in {}, which belongs to {}, not to {}", path, d,
                               user_name(st.st_uid), trusted.names()));
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
            refuse(
                fmt::format("{} lies in {}, which group or others can write (mode {:04o}); "
                            "run chmod go-w on it",
                            path, d, st.st_mode & 07777));
        if (d == "/") return;
        auto up = d.find_last_of('/');
        d = up == 0 ? "/" : d.substr(0, up);
    }
}

}  // namespace

std::string read_secret_file(const std::string& path, std::optional<uid_t> daemon_user) {
    Trusted trusted{{0, ::geteuid()}};
    if (daemon_user) trusted.uids.push_back(*daemon_user);
    check_directories(path, trusted);
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer; a regular file reads
    // the same either way.
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)};
    if (f.fd < 0) refuse(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
        refuse(fmt::format("{} is not a regular file", path));
    if ((st.st_mode & 077) != 0)
        refuse(fmt::format("{} is accessible by group or others (mode {:04o}); run chmod 600 on it",
                           path, st.st_mode & 07777));
    if (!trusted.has(st.st_uid))
        refuse(fmt::format("{} belongs to {}, not to {}", path, user_name(st.st_uid),
                           trusted.names()));
    if (static_cast<std::size_t>(st.st_size) > kMaxSecret)
        refuse(fmt::format("{} is larger than {} bytes", path, kMaxSecret));
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        ssize_t n = ::read(f.fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) refuse(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    std::string secret(trim(data.substr(0, data.find('\n'))));
    if (secret.empty()) refuse(fmt::format("{} is empty", path));
    return secret;
}

}  // namespace smsm
