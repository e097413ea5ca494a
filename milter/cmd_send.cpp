// `sms-milter send [-c FILE] --to NUMBER TEXT`: one SMS now, for testing credentials. No
// outbox and no retry: the answer is printed.
#include <curl/curl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "milter/commands.h"
#include "milter/privileges.h"
#include "shared/config_load/load_config.h"
#include "shared/policy/phone.h"
#include "shared/text/segments.h"
#include "shared/twilio/twilio.h"

namespace smsm {

int cmd_send(const Args& argv) {
    Args args = argv;
    std::string path = take_config_option(args);
    std::string to, text;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--to" && i + 1 < args.size())
            to = args[++i];
        else if (text.empty())
            text = args[i];
        else {
            fmt::print(stderr, "sms-milter send: unexpected argument \"{}\"\n", args[i]);
            return 2;
        }
    }
    if (to.empty() || text.empty()) {
        fmt::print(stderr, "usage: sms-milter send [-c FILE] --to NUMBER TEXT\n");
        return 2;
    }
    ConfigLoad load = load_config(path);
    for (const auto& e : load.errors) fmt::print(stderr, "{}\n", e);
    if (!load.config) return 1;
    if (!forbid_core_dumps()) {  // the secret file is in memory now
        fmt::print(stderr, "sms-milter send: cannot keep the secret out of core dumps: {}\n",
                   std::strerror(errno));
        return 1;
    }
    auto number = parse_phone(to, load.config->default_region);
    if (!number) {
        fmt::print(stderr, "sms-milter send: \"{}\" is not a valid phone number\n", to);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    TwilioClient client(*load.config);
    SendResult r = client.send(number->e164, fit_segments(text, load.config->max_segments));
    if (r.kind != SendResult::Kind::Sent) {
        fmt::print(stderr, "sms-milter send: {} ({})\n", r.error, kind_name(r.kind));
        return 1;
    }
    fmt::print("sent to {}: sid={} segments={}\n", number->e164, r.sid, r.segments);
    return 0;
}

}  // namespace smsm
