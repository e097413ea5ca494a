// `sms-milter run`: load the config, open the outbox, start the sender, serve libmilter until
// SIGTERM/SIGINT (SIGHUP too: libmilter treats it as stop); SIGUSR1 reloads the config.
#include <curl/curl.h>
#include <fmt/format.h>
#include <libmilter/mfapi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "milter/callbacks.h"
#include "milter/commands.h"
#include "milter/signals.h"
#include "shared/log.h"
#include "shared/message_text.h"

namespace smsm {

namespace {

constexpr int kBindAttempts = 10;  // an inet port may stay busy a few seconds after a restart

void reload(ConfigHolder& holder) {
    auto old = holder.get();
    ConfigLoad load = load_config(old->source);
    if (!load.config) {
        for (const auto& e : load.errors) log::error("reload: {}", e);
        log::error("reload: keeping the previous configuration");
        return;
    }
    if (load.config->milter_socket != old->milter_socket ||
        load.config->state_directory != old->state_directory)
        log::warning("reload: milter_socket and state_directory take effect only after a restart");
    log::init(load.config->log_to, load.config->log_full_numbers);
    holder.set(load.config);
    log::info("reloaded configuration from {}", old->source);
}

bool open_socket(const std::string& socket) {
    if (smfi_setconn(const_cast<char*>(socket.c_str())) != MI_SUCCESS) return false;
    mode_t old = ::umask(0007);  // a unix socket only for its owner and group
    bool ok = false;
    for (int i = 0; i < kBindAttempts && !ok; ++i) {
        ok = smfi_opensocket(true) == MI_SUCCESS;
        if (!ok) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    ::umask(old);
    return ok;
}

}  // namespace

int cmd_run(const Args& argv) {
    Args args = argv;
    std::string path = take_config_option(args);
    if (!args.empty()) {
        fmt::print(stderr, "sms-milter run: unexpected argument \"{}\"\n", args.front());
        return 2;
    }
    ConfigLoad load = load_config(path);
    if (!load.config) {
        for (const auto& e : load.errors) fmt::print(stderr, "{}\n", e);
        return 1;
    }
    log::init(load.config->log_to, load.config->log_full_numbers);
    block_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    message_text_init();

    ConfigHolder holder(load.config);
    try {
        Outbox outbox(load.config->state_directory);
        Sender sender(holder, outbox);
        MilterServices services{&holder, &outbox, &sender};
        if (!register_milter(services)) {
            log::fatal("smfi_register failed");
            return 1;
        }
        if (!open_socket(load.config->milter_socket)) {
            log::fatal("cannot listen on {}", load.config->milter_socket);
            return 1;
        }
        sender.start();
        ReloadThread reloader([&holder] { reload(holder); });
        log::info("starting sms-milter {} on {}", SMS_MILTER_VERSION, load.config->milter_socket);
        int rc = smfi_main();
        log::info("stopping");
        sender.stop();
        return rc == MI_SUCCESS ? 0 : 1;
    } catch (const std::exception& e) {
        log::fatal("{}", e.what());
        return 1;
    }
}

}  // namespace smsm
