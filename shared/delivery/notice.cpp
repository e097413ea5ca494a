// Failure notices piped to sendmail_command (no shell: argv is the configured list).
#include "shared/delivery/notice.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "shared/base/log.h"
#include "shared/base/strings.h"
#include "shared/policy/address.h"
#include "shared/policy/policy.h"

extern char** environ;

namespace smsm {

namespace {

constexpr auto kSendmailTimeout = std::chrono::seconds(30);
constexpr std::size_t kQuotedChars = 160;  // of the SMS text, quoted in the notice

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Waits for the child, killing it when it takes too long; true when it exited 0.
bool reap(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + kSendmailTimeout;
    int status = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (r < 0 && errno != EINTR) return false;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

std::string notice_recipient(const Config& cfg, const Job& job) {
    std::string to = cfg.failure_notice == "sender" ? job.sender : cfg.failure_notice;
    auto addr = parse_address(to);
    if (!addr || is_gateway_domain(cfg, addr->domain)) return {};
    return to;
}

std::string compose_notice(const Job& job, const std::string& reason, const std::string& to) {
    std::string text = display_text(job.body, kQuotedChars, "  ");
    return "To: " + printable(to) +
           "\nFrom: SMS gateway <MAILER-DAEMON>\n"
           "Subject: SMS not delivered to " +
           printable(job.number) +
           "\nAuto-Submitted: auto-replied\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n"
           "\n"
           "The SMS gateway could not deliver a text message.\n\n"
           "  Recipient:  " +
           printable(job.rcpt) + " (" + printable(job.number) +
           ")\n"
           "  Mail from:  <" +
           printable(job.sender) +
           ">\n"
           "  Queue ID:   " +
           printable(job.queue_id) +
           "\n"
           "  Reason:     " +
           printable(reason, 300) +
           "\n\n"
           "The text was:\n\n  " +
           text + "\n";
}

bool pipe_to_sendmail(const Config& cfg, const std::string& to, const std::string& mail) {
    if (cfg.sendmail_command.empty()) return false;
    std::vector<std::string> args = cfg.sendmail_command;
    for (const char* a : {"-i", "-f", "", "--"}) args.emplace_back(a);
    args.push_back(to);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    // The daemon blocks and ignores signals in its threads; the child starts clean.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    ::close(pipefd[0]);
    bool ok = rc == 0 && write_all(pipefd[1], mail);
    ::close(pipefd[1]);
    return rc == 0 && reap(pid) && ok;
}

bool send_failure_notice(const Config& cfg, const Job& job, const std::string& reason) {
    std::string to = notice_recipient(cfg, job);
    if (to.empty() || cfg.sendmail_command.empty()) return true;
    bool ok = pipe_to_sendmail(cfg, bare_address(to), compose_notice(job, reason, to));
    if (ok)
        log::info(log::Qid{job.queue_id}, "to={}, failure notice mailed to <{}>",
                  log::number(job.number), printable(bare_address(to)));
    else
        log::warning(log::Qid{job.queue_id},
                     "to={}, cannot mail the failure notice to <{}> with {}",
                     log::number(job.number), printable(bare_address(to)),
                     printable(cfg.sendmail_command[0]));
    return ok;
}

}  // namespace smsm
