// sms-milter: an email-to-SMS bridge for Postfix and Sendmail. Dispatches the subcommands.
#include <fmt/format.h>

#include <cstring>

#include "milter/commands.h"
#include "shared/config.h"

namespace smsm {

namespace {

constexpr const char* kUsage = R"(usage: sms-milter COMMAND [options]

commands:
  run [-c FILE]                       serve in the foreground (SIGUSR1 reloads the config)
  check [-c FILE] [--online]          validate the config and secret files
  send [-c FILE] --to NUMBER TEXT     send one SMS now, to test credentials
  render [-c FILE] --from ADDR --to RCPT [--to RCPT...] [--client IP] [--sasl USER]
         [--json] [MESSAGE-FILE]      dry run: per recipient the SMTP reply, or the number,
                                      SMS text, encoding and segments; no network
  help [COMMAND | config]             this text, a command's usage, or the config keys
  --version                           print the version

The default config file is /etc/sms-milter/sms-milter.conf. See sms-milter(8).
)";

int help(const Args& args) {
    if (!args.empty() && args[0] == "config") {
        fmt::print("{}", describe_config_keys());
        return 0;
    }
    fmt::print("{}", kUsage);
    return 0;
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
        fmt::print(stderr, "{}", kUsage);
        return 2;
    }
    std::string cmd = argv[1];
    Args args(argv + 2, argv + argc);
    if (cmd == "--version" || cmd == "-V") {
        fmt::print("sms-milter {}\n", SMS_MILTER_VERSION);
        return 0;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") return help(args);
    if (cmd == "run") return cmd_run(args);
    if (cmd == "check") return cmd_check(args);
    if (cmd == "send") return cmd_send(args);
    if (cmd == "render") return cmd_render(args);
    fmt::print(stderr, "sms-milter: unknown command \"{}\"\n{}", cmd, kUsage);
    return 2;
}
