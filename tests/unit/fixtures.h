// Test fixtures: a temporary directory removed with everything in it afterwards, and a
// minimal valid config written into it.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "shared/config/config.h"
#include "shared/config_load/load_config.h"

namespace smsm::test {

class TempDir {
  public:
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sms-milter-test.XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data()) ? tmpl : throw std::runtime_error("mkdtemp failed");
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // Writes a file below the directory and returns its full path.
    std::string write(const std::string& name, const std::string& content,
                      mode_t mode = 0600) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p) << content;
        ::chmod(p.c_str(), mode);
        return p;
    }

  private:
    std::string path_;
};

// The smallest valid config (its token file included), plus extra lines.
inline std::string minimal_config(const TempDir& d,
                                  const std::string& gateway_domains = "sms.example.com") {
    d.write("token", "tok-123\n");
    return "gateway_domains = " + gateway_domains +
           "\n"
           "twilio_account_sid = AC0123456789abcdef0123456789abcdef\n"
           "twilio_auth_token_file = " +
           d.path() +
           "/token\n"
           "twilio_from = +15005550006\n";
}

// Loads minimal_config + extra; throws when it does not load.
inline std::shared_ptr<const Config> load_test_config(
    const TempDir& d, const std::string& extra = "",
    const std::string& gateway_domains = "sms.example.com") {
    auto load = load_config(d.write("c.conf", minimal_config(d, gateway_domains) + extra));
    if (!load.config) throw std::runtime_error("test config: " + load.errors.front());
    return load.config;
}

}  // namespace smsm::test
