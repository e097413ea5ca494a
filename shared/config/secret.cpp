// Reading secret files (Twilio auth token, API key secret).
#include "shared/config/secret.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

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
}  // namespace

std::string read_secret_file(const std::string& path) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
    if (f.fd < 0)
        throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw std::runtime_error(fmt::format("{} is not a regular file", path));
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error(
            fmt::format("{} is accessible by group or others (mode {:04o}); run chmod 600 on it",
                        path, st.st_mode & 07777));
    if (static_cast<std::size_t>(st.st_size) > kMaxSecret)
        throw std::runtime_error(fmt::format("{} is larger than {} bytes", path, kMaxSecret));
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    ssize_t n = ::read(f.fd, data.data(), data.size());
    if (n < 0)
        throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    data.resize(static_cast<std::size_t>(n));
    std::string secret(trim(data.substr(0, data.find('\n'))));
    if (secret.empty()) throw std::runtime_error(fmt::format("{} is empty", path));
    return secret;
}

}  // namespace smsm
