// The Twilio Programmable Messaging client (SPEC §7): the classification of every answer into
// what the outbox does next, the lookup of a message in Twilio's list, and a blocking client.
//
// Security: TLS peer and host verification are always on; the credentials go to libcurl's
// USERNAME/PASSWORD options only and never into URLs, errors or logs (twilio_request.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "shared/config/config.h"

namespace smsm {

struct SendResult {
    enum class Kind {
        Sent,       // 2xx: keep the SID
        Retry,      // 429/20429 or the request never left: safe to send again later
        Ambiguous,  // 5xx or a failure after the request was sent: Twilio may have it
        Permanent,  // 4xx with a permanent error code: failed for good
        AuthError,  // 401/20003: configuration error, keep the job
    };
    Kind kind = Kind::Retry;
    long http_status = 0;
    int code = 0;  // Twilio error code, 0 if none
    std::string sid;
    int segments = 0;
    std::string error;  // human-readable, safe to log
    std::optional<std::chrono::seconds> retry_after;
};

const char* kind_name(SendResult::Kind k);

// Classifies one HTTP answer; exposed for unit tests.
SendResult classify_response(long http_status, const std::string& body,
                             std::optional<std::chrono::seconds> retry_after);

// The answer to "did Twilio already create this message?" after an uncertain outcome.
struct LookupResult {
    // Error: the list answered with a refusal (401/403, a restricted key without the list
    // permission) or something unreadable: lookup_failure_action decides. Unavailable: a
    // throttle (429/20429), a 5xx or a network failure: always "look again later".
    enum class Kind { Found, NotFound, Error, Unavailable };
    Kind kind = Kind::Error;
    std::string sid;
    std::string error;
    std::string next_page_uri;  // NotFound on this page, and the list goes on there
};

// Parses Twilio's RFC 2822 dates ("Wed, 25 Nov 2026 19:00:00 +0000"; GMT and UTC too).
std::optional<std::chrono::system_clock::time_point> parse_rfc2822_date(const std::string& text);

// A blocking client, one request at a time over one reused connection: `check --online`,
// `send` and the sender's lookups. The sender's creates go through TwilioMulti.
class TwilioClient {
  public:
    explicit TwilioClient(const Config& cfg);
    ~TwilioClient();
    TwilioClient(const TwilioClient&) = delete;
    TwilioClient& operator=(const TwilioClient&) = delete;

    SendResult send(const std::string& to, const std::string& body);
    // GET the first message of the list (PageSize=1), what the daemon itself needs besides
    // creates: Sent when the credentials work and may list messages. (Not the Accounts
    // resource: Twilio refuses API keys there with 20003.)
    SendResult verify_credentials();
    // Looks for a message to `to` with this body created since `since` and whose SID is not
    // in `taken` (Twilio's list, every page it takes: twilio_list.h).
    LookupResult find_message(const std::string& to, const std::string& body,
                              std::chrono::system_clock::time_point since,
                              const std::set<std::string>& taken = {});
    // Delivery status and replies (SPEC §9; message_status.h parses the answers):
    // GET one message resource; the answer's body goes to `response`.
    SendResult fetch_message(const std::string& sid, std::string& response);
    // GET a page of the messages to `to` sent on or after the (UTC) day of `since` (unix
    // seconds), or the page at `page_uri` (a next_page_uri) when not empty.
    SendResult list_messages_to(const std::string& to, std::int64_t since,
                                const std::string& page_uri, std::string& response);

  private:
    struct State;
    SendResult perform(const std::string& url, const std::string* post_fields,
                       std::string* response = nullptr);
    std::unique_ptr<State> state_;
};

}  // namespace smsm
