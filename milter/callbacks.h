// The libmilter glue: registration and the xxfi_* callbacks.
#pragma once

#include "shared/config/config_holder.h"
#include "shared/delivery/sender.h"
#include "shared/outbox/outbox.h"
#include "shared/policy/rate_limit.h"
#include "shared/shared_state/shared_state.h"

namespace smsm {

struct MilterServices {
    ConfigHolder* config;
    Outbox* outbox;
    Sender* sender;
    RateLimiter* limits;
    SharedState* shared = nullptr;  // shared_state; null: nothing shared
};

// Registers the filter with libmilter; the services must outlive smfi_main().
bool register_milter(MilterServices& services);

}  // namespace smsm
