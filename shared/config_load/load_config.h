// Loading the configuration: read, validate, load the secret files (config_table.cpp, the
// declarative key table); see sms-milter.conf(5).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shared/config/config.h"

namespace smsm {

struct ConfigLoad {
    std::shared_ptr<const Config> config;  // null when there are errors
    std::vector<std::string> errors;       // "FILE:LINE: text"
};

// Reads, validates and (unless skip_secrets) loads the secret files. daemon_user (`check
// --user`): the user the daemon runs as, whose secret files root may read
// (shared/config/secret.h); empty: run_as_user, else the system user sms-milter.
ConfigLoad load_config(const std::string& path, bool skip_secrets = false,
                       const std::string& daemon_user = {});

// One line per key for `sms-milter help config`: name, default and meaning.
std::string describe_config_keys();

// Default config file.
inline constexpr const char* kDefaultConfigPath = "/etc/sms-milter/sms-milter.conf";

}  // namespace smsm
