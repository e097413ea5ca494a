// Secret files: a regular file, private, owned by a trusted user, in directories nobody else
// can change; a FIFO fails at once instead of blocking. Ownership cases need root (chown).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "shared/config/secret.h"
#include "tests/unit/fixtures.h"

using namespace smsm;

namespace {

constexpr uid_t kNobody = 65534;

// The error read_secret_file throws, or "" when it reads the secret.
std::string error_of(const std::string& path, std::optional<uid_t> daemon_user = std::nullopt) {
    try {
        std::string secret = read_secret_file(path, daemon_user);
        return secret == "tok" ? "" : "read \"" + secret + "\"";
    } catch (const std::runtime_error& e) {
        return e.what();
    }
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("secret file: a FIFO, a symbolic link or a directory is refused at once") {
    test::TempDir d;
    std::string fifo = d.path() + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(error_of(fifo) == fifo + " is not a regular file");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));

    std::string token = d.write("token", "tok\n");
    CHECK(error_of(token) == "");
    std::string link = d.path() + "/link";
    REQUIRE(::symlink(token.c_str(), link.c_str()) == 0);
    CHECK(contains(error_of(link), "cannot open " + link));
    CHECK(contains(error_of(d.path()), "is not a regular file"));
    CHECK(contains(error_of(d.path() + "/missing"), "No such file or directory"));
}

TEST_CASE("secret file: a directory above it that group or others can write is refused") {
    test::TempDir d;
    std::string token = d.write("token", "tok\n");
    ::chmod(d.path().c_str(), 0770);
    CHECK(error_of(token) == token + " lies in " + d.path() +
                                 ", which group or others can write (mode 0770); run chmod "
                                 "go-w on it");
    ::chmod(d.path().c_str(), 0702);
    CHECK(contains(error_of(token), "which group or others can write (mode 0702)"));
    ::chmod(d.path().c_str(), 01777);  // sticky, as /tmp: others cannot swap the file
    CHECK(error_of(token) == "");
    ::chmod(d.path().c_str(), 0755);
    CHECK(error_of(token) == "");
}

TEST_CASE("secret file: owned by root, the reading user or the daemon's user") {
    if (::geteuid() != 0) return;  // chown needs root
    test::TempDir d;
    std::string token = d.write("token", "tok\n");
    REQUIRE(::chown(token.c_str(), kNobody, 0) == 0);
    std::string err = error_of(token);
    CHECK(contains(err, token + " belongs to "));
    CHECK(contains(err, "(uid 65534), not to root"));
    CHECK(error_of(token, kNobody) == "");  // root reads it for the daemon's user
    CHECK(contains(error_of(token, 1), "(uid 65534), not to root or "));

    REQUIRE(::chown(token.c_str(), 0, 0) == 0);
    REQUIRE(::chown(d.path().c_str(), kNobody, 0) == 0);  // who owns the directory can swap it
    CHECK(contains(error_of(token), "lies in " + d.path() + ", which belongs to "));
    CHECK(error_of(token, kNobody) == "");
}
