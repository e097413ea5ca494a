// The daemon's configuration: one immutable snapshot per load. Parsing and validation are
// driven by the declarative key table in shared/config_load/config_table.cpp (load_config.h);
// see sms-milter.conf(5).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/base/cidr.h"
#include "shared/base/log.h"
#include "shared/base/number_type.h"

namespace smsm {

// What to do with a job of uncertain outcome when Twilio's message list cannot be read.
enum class LookupFailure { Defer, Resend, Fail };

// What RCPT and end of message do while the shared state (Redis) cannot be reached.
enum class SharedStateFailure { Local, Tempfail };

struct AliasTable;   // shared/policy/aliases.h
struct SenderRules;  // shared/policy/sender_rules.h

// A gateway domain and the region its national numbers belong to ("txt.example.ca:CA").
struct GatewayDomain {
    std::string name;    // lowercased
    std::string region;  // ISO 3166, upper case; empty: default_region
};

// At most `count` SMS per `period` (a `N/PERIOD` value); count 0: no limit.
struct RateLimit {
    std::uint32_t count = 0;
    std::chrono::seconds period{0};
    bool on() const { return count > 0; }
    std::string str() const;  // "30/1h", or "none"
};

struct Config {
    std::string source;  // the file it was read from

    std::string milter_socket;
    std::vector<GatewayDomain> gateway_domains;
    bool carrier_domains = false;  // also the shipped carrier domains (shared/policy/)
    std::string default_region;    // ISO 3166 alpha-2, upper case
    std::vector<std::string> allowed_countries;
    std::vector<NumberType> allowed_number_types;
    std::string aliases_file;                         // empty: no aliases
    std::shared_ptr<const AliasTable> aliases;        // loaded with the config; null: none
    std::string sender_rules_file;                    // empty: no sender rules
    std::shared_ptr<const SenderRules> sender_rules;  // loaded with the config; null: none
    std::vector<Cidr> allowed_clients;
    std::vector<std::string> allowed_senders;  // lowercased "user@dom" or "@dom"
    bool require_sasl_auth = false;
    bool local_submission = false;           // mail submitted on the MTA host may text
    RateLimit sender_rate_limit;             // per envelope sender
    RateLimit destination_rate_limit;        // per destination number
    RateLimit global_rate_limit;             // all SMS together
    std::chrono::seconds storm_window{300};  // 0: off

    std::string twilio_account_sid;
    std::string twilio_auth_token_file;
    std::string twilio_api_key_sid;
    std::string twilio_api_key_secret_file;
    std::string twilio_from;
    std::string twilio_messaging_service_sid;
    std::string twilio_api_url;
    std::string twilio_ca_file;
    std::chrono::seconds twilio_timeout{30};

    std::string state_directory;
    std::size_t body_size_limit = 0;
    int max_segments = 4;
    bool gsm_transliterate = true;
    std::string sms_template;
    std::string body_cut_marker;
    std::chrono::seconds minimal_backoff_time{10};
    std::chrono::seconds maximal_backoff_time{300};
    std::chrono::seconds max_queue_lifetime{5 * 86400};
    std::chrono::seconds duplicate_window{3600};
    std::chrono::seconds outbox_retention{7 * 86400};
    std::chrono::seconds eom_wait{0};
    int send_concurrency = 16;
    double twilio_send_rate = 0;  // create requests per second; 0: no pacing
    // Least time between two create requests to one number (14107); 0: no spacing.
    std::chrono::seconds destination_rate_delay{1};
    LookupFailure lookup_failure_action = LookupFailure::Defer;
    // After an uncertain outcome: resent only when two lookups this far apart missed it.
    std::chrono::seconds lookup_recheck_time{300};
    std::string failure_notice;                 // empty: none; "sender"; or an address
    std::vector<std::string> sendmail_command;  // argv

    // Delivery status and replies (SPEC §9; shared/status/status_poller.h).
    bool status_polling = true;
    std::vector<std::chrono::seconds> status_poll_schedule;  // delays after the send, >= 1
    std::chrono::seconds status_poll_give_up{86400};
    bool reply_forwarding = false;
    std::chrono::seconds reply_window{86400};
    std::chrono::seconds reply_poll_interval{60};

    std::string run_as_user;  // empty: stay as started

    LogTo log_to = LogTo::Syslog;
    bool log_full_numbers = false;

    std::string metrics_listen;  // HOST:PORT of the Prometheus endpoint; empty: off

    // Several relays (shared/shared_state/): empty shared_state: this relay's own state.
    std::string shared_state;  // redis://HOST:PORT/DB or rediss://...
    std::string shared_state_password_file;
    std::string shared_state_ca_file;
    SharedStateFailure shared_state_failure = SharedStateFailure::Local;
    std::chrono::milliseconds shared_state_timeout{200};
    std::string shared_state_password;  // from shared_state_password_file; never logged

    // Filled from the secret files at load time; never logged.
    std::string twilio_user;    // account SID or API key SID
    std::string twilio_secret;  // auth token or API key secret
};

}  // namespace smsm
