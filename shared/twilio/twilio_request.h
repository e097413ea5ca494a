// One HTTP request to Twilio on a libcurl easy handle, the same for the blocking client
// (lookups, `check --online`, `send`) and the multi transport of the sender: the options
// that keep it safe and how its end is classified.
//
// Security: https only; TLS peer and host verification always on; the credentials go to
// USERNAME/PASSWORD only, never into URLs, errors or logs. A create (POST) reads its body
// through a callback that cannot rewind, so libcurl never resends it on its own (on a reused
// connection that died mid-request it fails with CURLE_SEND_FAIL_REWIND instead): whether
// Twilio may have the message is decided by finish(), never by libcurl.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "shared/config/config.h"
#include "shared/twilio/twilio.h"

namespace smsm {

// What requests need from the configuration, copied: a request never sees a reload.
struct TwilioEndpoint {
    explicit TwilioEndpoint(const Config& cfg);
    std::string messages_url() const;
    // The form of a create request: To, Body, From or MessagingServiceSid, SmartEncoded=false.
    std::string create_fields(CURL* c, const std::string& to, const std::string& body) const;

    std::string account_sid, user, secret, from, service_sid, base_url, ca_file;
    long timeout_s;
};

std::string url_escape(CURL* c, const std::string& s);

// The state of one transfer; it must stay where it is (libcurl holds pointers into it)
// until the transfer has ended.
class TwilioRequest {
  public:
    // Resets `c` and sets every option for a GET of `url`, or a POST of `post_fields`.
    TwilioRequest(CURL* c, const TwilioEndpoint& ep, std::string url,
                  std::optional<std::string> post_fields);
    TwilioRequest(const TwilioRequest&) = delete;
    TwilioRequest& operator=(const TwilioRequest&) = delete;

    // How the transfer ended (rc from curl_easy_perform or the multi's CURLMSG_DONE); the
    // response body goes to *response when given.
    SendResult finish(CURLcode rc, std::string* response = nullptr);

  private:
    SendResult classify(CURLcode rc, std::string* response);
    struct Captured {
        std::string body;
        std::optional<std::chrono::seconds> retry_after;
    };
    static size_t on_body(char* data, size_t size, size_t n, void* user);
    static size_t on_header(char* data, size_t size, size_t n, void* user);
    static size_t on_read(char* buf, size_t size, size_t n, void* user);

    CURL* c_;
    std::string url_, fields_;
    std::string_view unsent_;  // the rest of fields_ still to upload
    Captured cap_;
    char errbuf_[CURL_ERROR_SIZE] = {};
};

}  // namespace smsm
