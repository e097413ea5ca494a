// The current config snapshot, swapped whole on reload.
#include "shared/config/config_holder.h"

namespace smsm {

std::shared_ptr<const Config> ConfigHolder::get() const {
    std::lock_guard lock(mutex_);
    return current_;
}

void ConfigHolder::set(std::shared_ptr<const Config> c) {
    std::lock_guard lock(mutex_);
    current_ = std::move(c);
}

}  // namespace smsm
