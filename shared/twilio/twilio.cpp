// The Twilio Programmable Messaging client (SPEC §7).
#include "shared/twilio/twilio.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

#include "shared/base/mask.h"
#include "shared/base/strings.h"
#include "shared/twilio/twilio_errors.h"
#include "shared/twilio/twilio_list.h"
#include "shared/twilio/twilio_request.h"

namespace smsm {

namespace {

// The lookup reads pages of kLookupPageSize (Twilio's largest) and at most kMaxLookupPages
// of them: 50,000 messages between the two numbers, more than a year of an alert an hour.
constexpr int kLookupPageSize = 1000;
constexpr int kMaxLookupPages = 50;

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc2822_date(const std::string& text) {
    // "Wed, 25 Nov 2026 19:00:00 +0000" (Twilio) or "... GMT".
    struct tm tm {};
    const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
    if (!rest) return std::nullopt;
    std::string_view zone = trim(rest);
    long offset = 0;
    if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-') &&
        zone.find_first_not_of("0123456789", 1) == std::string_view::npos) {
        long hhmm = std::strtol(std::string(zone.substr(1)).c_str(), nullptr, 10);
        offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (zone[0] == '-' ? -1 : 1);
    } else if (zone != "GMT" && zone != "UTC" && zone != "Z") {
        return std::nullopt;
    }
    return std::chrono::system_clock::from_time_t(timegm(&tm) - offset);
}

const char* kind_name(SendResult::Kind k) {
    switch (k) {
        case SendResult::Kind::Sent:
            return "sent";
        case SendResult::Kind::Retry:
            return "retry";
        case SendResult::Kind::Ambiguous:
            return "ambiguous";
        case SendResult::Kind::Permanent:
            return "permanent";
        case SendResult::Kind::AuthError:
            return "auth-error";
    }
    return "?";
}

SendResult classify_response(long status, const std::string& body,
                             std::optional<std::chrono::seconds> retry_after) {
    SendResult r;
    r.http_status = status;
    r.retry_after = retry_after;
    auto json = nlohmann::json::parse(body, nullptr, false);
    std::string message;
    if (json.is_object()) {
        if (auto it = json.find("code"); it != json.end() && it->is_number_integer())
            r.code = it->get<int>();
        if (auto it = json.find("message"); it != json.end() && it->is_string())
            message = it->get<std::string>();
        if (auto it = json.find("sid"); it != json.end() && it->is_string())
            r.sid = it->get<std::string>();
        if (auto it = json.find("num_segments"); it != json.end()) {
            if (it->is_string())
                r.segments = std::atoi(it->get<std::string>().c_str());
            else if (it->is_number_integer())
                r.segments = it->get<int>();
        }
    }
    // Twilio's messages quote the number ("The 'To' number +14155550100 is not a valid
    // phone number."): masked here, where they enter, so that the log, last_error, `queue`,
    // the failure notice and the eom_wait reply never show it (SPEC §8).
    std::string what = message.empty() ? fmt::format("HTTP {}", status)
                                       : fmt::format("HTTP {} code {}: {}", status, r.code,
                                                     mask_numbers_in_text(message.substr(0, 1000)));
    r.error = what.substr(0, 300);
    if (status >= 200 && status < 300) {
        r.kind = SendResult::Kind::Sent;
        r.error.clear();
    } else if (status == 429 || twilio_code_is_temporary(r.code)) {
        // 20429 whatever the HTTP status; 21611 (the sender's queue is full) comes as a 400
        // but passes: retried with backoff, not failed.
        r.kind = SendResult::Kind::Retry;
    } else if (status == 401 || twilio_code_is_auth(r.code)) {
        r.kind = SendResult::Kind::AuthError;
    } else if (status >= 500) {
        r.kind = SendResult::Kind::Ambiguous;
    } else if (status >= 400 && status != 408) {
        // Twilio's 4xx answers (21211, 21408, 21610, 21612, 21614, 21617, 30032, ...) do not
        // change when the same request is sent again.
        r.kind = SendResult::Kind::Permanent;
    } else {
        r.kind = SendResult::Kind::Ambiguous;
    }
    return r;
}

struct TwilioClient::State {
    explicit State(const Config& cfg) : ep(cfg), curl(curl_easy_init()) {}
    TwilioEndpoint ep;
    std::unique_ptr<CURL, CurlDeleter> curl;
};

TwilioClient::TwilioClient(const Config& cfg) : state_(std::make_unique<State>(cfg)) {
    if (!state_->curl) throw std::runtime_error("curl_easy_init failed");
}

TwilioClient::~TwilioClient() = default;

SendResult TwilioClient::send(const std::string& to, const std::string& body) {
    std::string fields = state_->ep.create_fields(state_->curl.get(), to, body);
    return perform(state_->ep.messages_url(), &fields);
}

SendResult TwilioClient::verify_credentials() {
    return perform(state_->ep.messages_url() + "?PageSize=1", nullptr);
}

LookupResult TwilioClient::find_message(const std::string& to, const std::string& body,
                                        std::chrono::system_clock::time_point since,
                                        const std::set<std::string>& taken) {
    CURL* c = state_->curl.get();
    const TwilioEndpoint& ep = state_->ep;
    std::string url = ep.messages_url() + "?To=" + url_escape(c, to) +
                      fmt::format("&PageSize={}", kLookupPageSize);
    if (ep.service_sid.empty()) url += "&From=" + url_escape(c, ep.from);
    ListScan scan(body, since, taken);
    for (int page = 0; page < kMaxLookupPages; ++page) {
        std::string response;
        SendResult r = perform(url, nullptr, &response);
        switch (r.kind) {
            case SendResult::Kind::Sent:
                break;
            case SendResult::Kind::Retry:      // throttled, or never sent
            case SendResult::Kind::Ambiguous:  // 5xx, timeout, connection lost
                return LookupResult{LookupResult::Kind::Unavailable, "", r.error, ""};
            case SendResult::Kind::Permanent:
            case SendResult::Kind::AuthError:
                return LookupResult{LookupResult::Kind::Error, "", r.error, ""};
        }
        LookupResult found = scan.page(response);
        if (found.kind != LookupResult::Kind::NotFound || found.next_page_uri.empty()) return found;
        if (found.next_page_uri.front() != '/')
            return LookupResult{LookupResult::Kind::Error, "", "unexpected next_page_uri", ""};
        url = ep.base_url + found.next_page_uri;  // a path: it stays on the configured host
    }
    return LookupResult{LookupResult::Kind::Error, "", "message list too long to search", ""};
}

SendResult TwilioClient::fetch_message(const std::string& sid, std::string& response) {
    const TwilioEndpoint& ep = state_->ep;
    if (sid.empty() || sid.size() > 64 ||
        !std::all_of(sid.begin(), sid.end(), [](unsigned char c) { return std::isalnum(c); })) {
        SendResult r;
        r.kind = SendResult::Kind::Permanent;
        r.error = "not a message SID";
        return r;
    }
    return perform(
        fmt::format("{}/2010-04-01/Accounts/{}/Messages/{}.json", ep.base_url, ep.account_sid, sid),
        nullptr, &response);
}

SendResult TwilioClient::list_messages_to(const std::string& to, std::int64_t since,
                                          const std::string& page_uri, std::string& response) {
    const TwilioEndpoint& ep = state_->ep;
    if (!page_uri.empty()) {
        if (page_uri.front() != '/') {
            SendResult r;
            r.kind = SendResult::Kind::Ambiguous;
            r.error = "unexpected next_page_uri";
            return r;
        }
        return perform(ep.base_url + page_uri, nullptr, &response);  // stays on the host
    }
    std::time_t t = static_cast<std::time_t>(since);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char day[16];
    std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
    std::string url = ep.messages_url() + "?To=" + url_escape(state_->curl.get(), to) +
                      "&DateSent%3E=" + day + "&PageSize=50";
    return perform(url, nullptr, &response);
}

SendResult TwilioClient::perform(const std::string& url, const std::string* post_fields,
                                 std::string* response) {
    CURL* c = state_->curl.get();
    TwilioRequest request(c, state_->ep, url,
                          post_fields ? std::optional<std::string>(*post_fields) : std::nullopt);
    return request.finish(curl_easy_perform(c), response);
}

}  // namespace smsm
