// The current config snapshot. Each message pins the snapshot it started with, so a reload
// (SIGUSR1) never changes a message in flight.
#pragma once

#include <memory>
#include <mutex>

#include "shared/config/config.h"

namespace smsm {

class ConfigHolder {
  public:
    explicit ConfigHolder(std::shared_ptr<const Config> c) : current_(std::move(c)) {}
    std::shared_ptr<const Config> get() const;
    void set(std::shared_ptr<const Config> c);

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Config> current_;
};

}  // namespace smsm
