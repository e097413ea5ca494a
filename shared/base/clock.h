// Wall-clock time as the outbox, the rate limits and storm windows keep it: unix seconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace smsm {

inline std::int64_t to_unix(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline std::int64_t unix_now() {
    return to_unix(std::chrono::system_clock::now());
}

}  // namespace smsm
