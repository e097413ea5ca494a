// `sms-milter run`: load the config, open the outbox, start the sender, serve libmilter until
// SIGTERM/SIGINT (SIGHUP too: libmilter treats it as stop); SIGUSR1 reloads the config.
#include <curl/curl.h>
#include <fmt/format.h>
#include <libmilter/mfapi.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "milter/callbacks.h"
#include "milter/commands.h"
#include "milter/privileges.h"
#include "milter/signals.h"
#include "shared/base/clock.h"
#include "shared/base/log.h"
#include "shared/config/milter_socket.h"
#include "shared/config_load/load_config.h"
#include "shared/metrics/http_server.h"
#include "shared/metrics/listen_address.h"
#include "shared/metrics/metrics.h"
#include "shared/outbox/outbox_gauges.h"
#include "shared/shared_state/shared_state.h"
#include "shared/status/status_poller.h"
#include "shared/text/message_text.h"

namespace smsm {

namespace {

constexpr int kBindAttempts = 10;  // an inet port may stay busy a few seconds after a restart

void reload(ConfigHolder& holder) {
    auto old = holder.get();
    ConfigLoad load = load_config(old->source);
    if (!load.config) {
        for (const auto& e : load.errors) log::error("reload: {}", e);
        log::error("reload: keeping the previous configuration");
        metrics::count_reload(false);
        return;
    }
    const Config& now = *load.config;
    if (now.milter_socket != old->milter_socket || now.state_directory != old->state_directory ||
        now.run_as_user != old->run_as_user)
        log::warning(
            "reload: milter_socket, state_directory and run_as_user take effect only after a "
            "restart");
    if (now.metrics_listen != old->metrics_listen)
        log::warning("reload: metrics_listen takes effect only after a restart");
    if (now.shared_state != old->shared_state ||
        now.shared_state_password != old->shared_state_password ||
        now.shared_state_ca_file != old->shared_state_ca_file ||
        now.shared_state_timeout != old->shared_state_timeout)
        log::warning(
            "reload: shared_state, its password, CA file and timeout take effect only after a "
            "restart");
    log::init(load.config->log_to, load.config->log_full_numbers);
    holder.set(load.config);
    metrics::count_reload(true);
    log::info("reloaded configuration from {}", old->source);
}

// The state directory, mode 0700, when it is missing and its parent exists: without
// systemd's StateDirectory= (or the package) nothing else creates it.
void make_state_directory(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        log::info("created state_directory {}", dir);
    } else if (errno != EEXIST) {
        throw std::runtime_error(
            fmt::format("state_directory {}: cannot create it: {}", dir, std::strerror(errno)));
    }
}

// The Prometheus endpoint (metrics_listen), on a thread of its own; null when off. Scrapes
// read the outbox through a read-only connection of their own (outbox_gauges.h).
std::unique_ptr<metrics::HttpServer> start_metrics(const Config& cfg) {
    if (cfg.metrics_listen.empty()) return nullptr;
    if (auto warning = metrics::listen_warning(cfg.metrics_listen); !warning.empty())
        log::warning("{}", warning);
    auto where = metrics::parse_listen_address(cfg.metrics_listen);
    if (!where) throw std::runtime_error("metrics_listen: not an address");  // checked at load
    auto gauges = std::make_shared<OutboxGauges>(cfg.state_directory);
    try {
        auto server = std::make_unique<metrics::HttpServer>(
            *where, [gauges] { return metrics::render_metrics(gauges->read(), unix_now()); });
        log::info("serving metrics on http://{}/metrics", cfg.metrics_listen);
        return server;
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("metrics_listen {}: {}", cfg.metrics_listen, e.what()));
    }
}

bool open_socket(const std::string& socket) {
    if (auto file = unix_socket_path(socket); !file.empty()) {
        std::string dir = file.substr(0, file.find_last_of('/'));
        struct stat st {};
        if (!dir.empty() && ::stat(dir.c_str(), &st) != 0) {
            log::fatal(
                "cannot listen on {}: directory {} does not exist (the systemd unit's "
                "RuntimeDirectory= or the package creates it; see sms-milter(8))",
                socket, dir);
            return false;
        }
    }
    if (smfi_setconn(const_cast<char*>(socket.c_str())) != MI_SUCCESS) return false;
    mode_t old = ::umask(0117);  // a unix socket 0660: only its owner and group connect
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
    if (!forbid_core_dumps()) {  // the secret files are in memory now
        log::fatal("cannot keep the secrets out of core dumps: {}", std::strerror(errno));
        return 1;
    }
    block_signals();
    // glibc raises its mmap threshold (up to 32 MiB) whenever a large block is freed; from
    // then on message captures and GMime's copy of them come from the worker threads' malloc
    // arenas, which keep the memory: after rounds of six 1.8 MB MIME floods at once the daemon
    // stayed at 42-44 MiB instead of 31 (idle: 28). A fixed threshold gives every block of
    // 128 KiB or more a mapping of its own, returned to the kernel when it is freed
    // (bench/mime_flood.sh measures this).
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    message_text_init();

    const Config& cfg = *load.config;
    ConfigHolder holder(load.config);
    try {
        MilterServices services{&holder, nullptr, nullptr, nullptr};  // complete before smfi_main()
        if (!register_milter(services)) {
            log::fatal("smfi_register failed");
            return 1;
        }
        if (auto warning = inet_socket_warning(cfg.milter_socket); !warning.empty())
            log::warning("{}", warning);
        if (!open_socket(cfg.milter_socket)) {
            log::fatal("cannot listen on {}", cfg.milter_socket);
            return 1;
        }
        make_state_directory(cfg.state_directory);
        if (!cfg.run_as_user.empty() && ::geteuid() == 0) {
            RunAs user = lookup_user(cfg.run_as_user);
            give_state_directory(user, cfg.state_directory);
            if (auto file = unix_socket_path(cfg.milter_socket); !file.empty())
                give_socket(user, file);
            drop_privileges(user);
            log::info("running as user {} (uid {}, gid {})", user.name, user.uid, user.gid);
        }
        Outbox outbox(cfg.state_directory);
        RateLimiter limits;
        load_rate_counts(outbox, limits);
        std::unique_ptr<metrics::HttpServer> metrics_server = start_metrics(cfg);
        std::unique_ptr<SharedState> shared = make_shared_state(cfg);
        if (!cfg.shared_state.empty())
            log::info(
                "sharing rate limits, duplicate detection and storm windows through {} "
                "(shared_state_failure = {})",
                cfg.shared_state,
                cfg.shared_state_failure == SharedStateFailure::Local ? "local" : "tempfail");
        Sender sender(holder, outbox);
        if (!cfg.shared_state.empty())
            sender.set_storm_held([&shared](const std::vector<std::string>& ids) {
                return shared->take_storm_held(ids);
            });
        services.outbox = &outbox;
        services.sender = &sender;
        services.limits = &limits;
        services.shared = cfg.shared_state.empty() ? nullptr : shared.get();
        sender.start();
        StatusPoller poller(holder, outbox, sender);  // delivery status and replies
        poller.start();
        ReloadThread reloader([&holder] { reload(holder); });
        // Start-up leaves freed memory behind in the heap (the configuration checks, the
        // parse of libphonenumber's metadata, the warm-up message): give its pages back.
        malloc_trim(0);
        log::info("starting sms-milter {} on {}", SMS_MILTER_VERSION, cfg.milter_socket);
        log::started();
        if (take_pending_stop()) {
            log::info("stopping (signalled during start-up)");
            poller.stop();
            sender.stop();
            return 0;
        }
        int rc = smfi_main();
        log::info("stopping");
        poller.stop();
        sender.stop();
        return rc == MI_SUCCESS ? 0 : 1;
    } catch (const std::exception& e) {
        log::fatal("{}", e.what());
        return 1;
    }
}

}  // namespace smsm
