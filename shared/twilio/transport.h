// What the sender needs from Twilio, as two small interfaces, so that its state machine
// (shared/delivery/sender.cpp) can be driven without a network: SmsTransport keeps create
// requests in flight and reports how each one ended; MessageLookup answers, one blocking
// question at a time, whether Twilio already has a message. twilio_over_https() makes the
// real ones.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shared/config/config.h"
#include "shared/twilio/twilio.h"

namespace smsm {

// How one create request ended; `tag` is what submit() was given.
struct SmsDone {
    std::int64_t tag = 0;
    SendResult result;
};

// Used by one thread, except wake().
class SmsTransport {
  public:
    virtual ~SmsTransport() = default;
    // Starts a create request (To, Body). Its end comes back from run().
    virtual void submit(std::int64_t tag, const std::string& to, const std::string& body) = 0;
    virtual std::size_t in_flight() const = 0;
    // Drives the requests in flight until some have ended, `until` has passed or wake() was
    // called, and returns those that ended (possibly none).
    virtual std::vector<SmsDone> run(std::chrono::steady_clock::time_point until) = 0;
    // From any thread: the run() in progress, or the next one, returns soon.
    virtual void wake() = 0;
};

class MessageLookup {
  public:
    virtual ~MessageLookup() = default;
    // A message to `to` with this body, created since `since`, in Twilio's message list,
    // whose SID is not in `taken` (given to other jobs)?
    virtual LookupResult find_message(const std::string& to, const std::string& body,
                                      std::chrono::system_clock::time_point since,
                                      const std::set<std::string>& taken) = 0;
};

// Makes them for one configuration snapshot (again after a reload that changed it).
struct TwilioFactory {
    std::function<std::unique_ptr<SmsTransport>(const Config&)> transport;
    std::function<std::unique_ptr<MessageLookup>(const Config&)> lookup;
};

// TwilioMulti for creates and a TwilioClient for lookups.
TwilioFactory twilio_over_https();

}  // namespace smsm
