// The sender's transport to Twilio: libcurl's multi interface, driven by one thread. Up to
// send_concurrency create requests are in flight at once over kept-alive connections (as
// many streams of one connection when the server speaks HTTP/2, one connection each with
// HTTP/1.1), and all connections share one CA store (see twilio_request.cpp).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "shared/twilio/transport.h"

namespace smsm {

class TwilioMulti final : public SmsTransport {
  public:
    explicit TwilioMulti(const Config& cfg);
    ~TwilioMulti() override;
    TwilioMulti(const TwilioMulti&) = delete;
    TwilioMulti& operator=(const TwilioMulti&) = delete;

    void submit(std::int64_t tag, const std::string& to, const std::string& body) override;
    std::size_t in_flight() const override;
    std::vector<SmsDone> run(std::chrono::steady_clock::time_point until) override;
    void wake() override;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace smsm
