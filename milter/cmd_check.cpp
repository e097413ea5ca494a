// `sms-milter check [-c FILE] [--online] [--user NAME]`: validate the config and secret
// files, what the daemon's user can read and write (check_access.h), which Twilio region
// twilio_api_url points at, and with --online the Twilio credentials: they must be able to
// list messages, as the lookup before a resend does (an API key cannot read the Accounts
// resource, so that is not what is asked). Errors as FILE:LINE: text; exit 0 ok, 1 not ok.
#include <curl/curl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "milter/check_access.h"
#include "milter/commands.h"
#include "milter/privileges.h"
#include "shared/config/milter_socket.h"
#include "shared/config_load/load_config.h"
#include "shared/metrics/listen_address.h"
#include "shared/shared_state/shared_state.h"
#include "shared/twilio/twilio.h"
#include "shared/twilio/twilio_region.h"

namespace smsm {

namespace {
// Why --online failed, in words an admin can act on.
std::string online_failure(const SendResult& r) {
    if (r.http_status == 401 || r.code == 20003)
        return "Twilio credentials not accepted (" + r.error +
               "); check twilio_account_sid, the secret file, and that they belong to the "
               "region twilio_api_url points at";
    if (r.http_status == 403 || r.code == 70051)
        return "Twilio credentials accepted, but they may not list messages (" + r.error +
               "); a restricted API key needs the Messages read (list) permission: the "
               "lookup before a resend after an uncertain outcome reads that list";
    return "cannot check the Twilio credentials: " + r.error;
}
}  // namespace

int cmd_check(const Args& argv) {
    Args args = argv;
    std::string path = take_config_option(args);
    bool online = false;
    std::string user;  // --user NAME: the daemon's user, instead of run_as_user or sms-milter
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--online") {
            online = true;
        } else if (a == "--user" && i + 1 < args.size()) {
            user = args[++i];
        } else {
            fmt::print(stderr, "sms-milter check: unexpected argument \"{}\"\n", a);
            return 2;
        }
    }
    ConfigLoad load = load_config(path, /*skip_secrets=*/false, user);
    for (const auto& e : load.errors) fmt::print(stderr, "{}\n", e);
    if (!load.config) return 1;
    if (!forbid_core_dumps()) {  // the secret files are in memory now
        fmt::print(stderr, "sms-milter check: cannot keep the secrets out of core dumps: {}\n",
                   std::strerror(errno));
        return 1;
    }
    if (auto warning = inet_socket_warning(load.config->milter_socket); !warning.empty())
        fmt::print(stderr, "{}: warning: {}\n", path, warning);
    if (auto warning = metrics::listen_warning(load.config->metrics_listen); !warning.empty())
        fmt::print(stderr, "{}: warning: {}\n", path, warning);
    AccessReport access;
    try {
        access = check_daemon_access(*load.config, user);
    } catch (const std::invalid_argument& e) {
        fmt::print(stderr, "sms-milter check: {}\n", e.what());
        return 2;
    }
    for (const auto& w : access.warnings) fmt::print(stderr, "warning: {}\n", w);
    for (const auto& p : access.problems) fmt::print(stderr, "{}\n", p);
    if (!access.problems.empty()) return 1;
    if (!access.user.empty())
        fmt::print("{}: files and directories checked as user {}\n", path, access.user);
    fmt::print("{}: {}\n", path, twilio_region(load.config->twilio_api_url).describe());
    if (!load.config->shared_state.empty()) {
        try {  // what start-up builds: the address looked up and the CA certificates loaded
            make_shared_state(*load.config);
        } catch (const std::exception& e) {
            fmt::print(stderr, "{}: {}\n", path, e.what());
            return 1;
        }
        fmt::print("{}: shared_state {}: address and TLS settings usable; not connected\n", path,
                   load.config->shared_state);
    }
    if (online) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        TwilioClient client(*load.config);
        SendResult r = client.verify_credentials();
        if (r.kind != SendResult::Kind::Sent) {
            fmt::print(stderr, "{}: {}\n", path, online_failure(r));
            return 1;
        }
        fmt::print("{}: Twilio credentials accepted; they may list messages\n", path);
    }
    fmt::print("{}: ok\n", path);
    return 0;
}

}  // namespace smsm
