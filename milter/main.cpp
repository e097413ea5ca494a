// sms-milter: an email-to-SMS bridge for Postfix and Sendmail. Dispatches the subcommands.
#include <fmt/format.h>

#include <cstdio>

#include "milter/commands.h"
#include "shared/config/config.h"
#include "shared/config_load/load_config.h"
#include "shared/metrics/metrics.h"
#include "shared/policy/carrier_domains.h"

namespace smsm {

namespace {

struct Command {
    const char* name;
    int (*run)(const Args&);
    const char* usage;
    const char* summary;
};

const Command kCommands[] = {
    {"run", cmd_run, "run [-c FILE]",
     "serve in the foreground until SIGTERM; SIGUSR1 reloads the config"},
    {"check", cmd_check, "check [-c FILE] [--online] [--user NAME]",
     "validate the config and secret files, and what the daemon's user (--user, else "
     "run_as_user, else sms-milter) can read and write (--online: also the Twilio "
     "credentials)"},
    {"render", cmd_render,
     "render [-c FILE] --from ADDR --to RCPT [--to RCPT...] [--client IP | --local] [--sasl USER] "
     "[--json] [MESSAGE-FILE]",
     "dry run, no network: per recipient the SMTP reply, or the number, SMS text, encoding and "
     "segments"},
    {"send", cmd_send, "send [-c FILE] --to NUMBER TEXT", "send one SMS now, to test credentials"},
    {"queue", cmd_queue, "queue [-c FILE] list | show ID | retry ID | drop ID | stats",
     "inspect and act on the outbox (safe while the daemon runs)"},
};

void usage(std::FILE* out) {
    fmt::print(out, "usage: sms-milter COMMAND [options]\n\ncommands:\n");
    for (const auto& c : kCommands) fmt::print(out, "  {}\n      {}\n", c.usage, c.summary);
    fmt::print(
        out,
        "  help [COMMAND | config | carrier-domains | metrics]\n      this text, one command's "
        "usage, every config key, the carrier domains of carrier_domains = yes, or every "
        "Prometheus metric\n"
        "  --version\n      print the version\n\n"
        "The default config file is {}. See sms-milter(8) and sms-milter.conf(5).\n",
        kDefaultConfigPath);
}

int help(const Args& args) {
    if (args.empty()) {
        usage(stdout);
        return 0;
    }
    if (args[0] == "config") {
        fmt::print("{}", describe_config_keys());
        return 0;
    }
    if (args[0] == "metrics") {
        fmt::print("{}", metrics::describe_metrics());
        return 0;
    }
    if (args[0] == "carrier-domains") {
        fmt::print("{}", describe_carrier_domains());
        return 0;
    }
    for (const auto& c : kCommands) {
        if (args[0] == c.name) {
            fmt::print("usage: sms-milter {}\n{}\n", c.usage, c.summary);
            return 0;
        }
    }
    fmt::print(stderr, "sms-milter help: no command \"{}\"\n", args[0]);
    return 2;
}

}  // namespace

std::string take_config_option(Args& args) {
    std::string path = kDefaultConfigPath;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "-c" && i + 1 < args.size()) {
            path = args[i + 1];
            args.erase(args.begin() + static_cast<long>(i),
                       args.begin() + static_cast<long>(i) + 2);
            break;
        }
    }
    return path;
}

}  // namespace smsm

int main(int argc, char** argv) {
    using namespace smsm;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string cmd = argv[1];
    Args args(argv + 2, argv + argc);
    if (cmd == "--version" || cmd == "-V") {
        fmt::print("sms-milter {}\n", SMS_MILTER_VERSION);
        return 0;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") return help(args);
    for (const auto& c : kCommands)
        if (cmd == c.name) return c.run(args);
    fmt::print(stderr, "sms-milter: unknown command \"{}\"\n", cmd);
    usage(stderr);
    return 2;
}
