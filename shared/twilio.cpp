// The Twilio Programmable Messaging client (SPEC §7).
#include "shared/twilio.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include "shared/strings.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxResponse = 1024 * 1024;
constexpr int kMaxLookupPages = 40;  // 2,000 messages to one number since the job

struct Captured {
    std::string body;
    std::optional<std::chrono::seconds> retry_after;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Captured*>(user);
    std::size_t len = size * n;
    if (c->body.size() + len > kMaxResponse) return 0;  // aborts the transfer
    c->body.append(data, len);
    return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Captured*>(user);
    std::string_view h(data, size * n);
    constexpr std::string_view kName = "retry-after:";
    if (h.size() > kName.size() && strncasecmp(h.data(), kName.data(), kName.size()) == 0) {
        long secs = std::strtol(std::string(h.substr(kName.size())).c_str(), nullptr, 10);
        if (secs > 0 && secs < 86400) c->retry_after = std::chrono::seconds(secs);
    }
    return size * n;
}

struct Upload {
    std::string_view rest;
};

size_t on_read(char* buf, size_t size, size_t n, void* user) {
    auto* u = static_cast<Upload*>(user);
    std::size_t len = std::min(size * n, u->rest.size());
    std::copy_n(u->rest.data(), len, buf);
    u->rest.remove_prefix(len);
    return len;
}

int no_seek(void*, curl_off_t, int) {
    return CURL_SEEKFUNC_CANTSEEK;
}

std::string escape(CURL* c, const std::string& s) {
    char* e = curl_easy_escape(c, s.data(), static_cast<int>(s.size()));
    if (!e) throw std::bad_alloc();
    std::string out(e);
    curl_free(e);
    return out;
}

bool request_never_sent(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return true;
        default:
            return false;
    }
}

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
    std::string what = message.empty()
                           ? fmt::format("HTTP {}", status)
                           : fmt::format("HTTP {} code {}: {}", status, r.code, message);
    r.error = what.substr(0, 300);
    if (status >= 200 && status < 300) {
        r.kind = SendResult::Kind::Sent;
        r.error.clear();
    } else if (status == 429 || r.code == 20429) {
        r.kind = SendResult::Kind::Retry;
    } else if (status == 401 || r.code == 20003) {
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

TwilioClient::TwilioClient(const Config& cfg)
    : account_sid_(cfg.twilio_account_sid),
      user_(cfg.twilio_user),
      secret_(cfg.twilio_secret),
      from_(cfg.twilio_from),
      service_sid_(cfg.twilio_messaging_service_sid),
      base_url_(cfg.twilio_api_url),
      ca_file_(cfg.twilio_ca_file),
      timeout_s_(static_cast<long>(cfg.twilio_timeout.count())),
      curl_(curl_easy_init()) {
    if (!curl_) throw std::runtime_error("curl_easy_init failed");
}

SendResult TwilioClient::send(const std::string& to, const std::string& body) {
    CURL* c = curl_.get();
    std::string fields = "To=" + escape(c, to) + "&Body=" + escape(c, body);
    fields += service_sid_.empty() ? "&From=" + escape(c, from_)
                                   : "&MessagingServiceSid=" + escape(c, service_sid_);
    return perform(fmt::format("{}/2010-04-01/Accounts/{}/Messages.json", base_url_, account_sid_),
                   &fields);
}

SendResult TwilioClient::verify_credentials() {
    return perform(fmt::format("{}/2010-04-01/Accounts/{}.json", base_url_, account_sid_), nullptr);
}

LookupResult match_message_list(const std::string& json_body, const std::string& body,
                                std::chrono::system_clock::time_point since) {
    LookupResult r;
    auto json = nlohmann::json::parse(json_body, nullptr, false);
    auto list = json.is_object() ? json.find("messages") : json.end();
    if (!json.is_object() || list == json.end() || !list->is_array()) {
        r.error = "unexpected message list";
        return r;
    }
    bool older_seen = false;
    for (const auto& m : *list) {
        if (!m.is_object()) continue;
        auto at = parse_rfc2822_date(m.value("date_created", ""));
        if (!at) continue;
        if (*at < since) {
            older_seen = true;
            continue;
        }
        if (m.value("body", "") != body) continue;
        r.kind = LookupResult::Kind::Found;
        r.sid = m.value("sid", "");
        return r;
    }
    r.kind = LookupResult::Kind::NotFound;
    auto next = json.find("next_page_uri");
    if (!older_seen && next != json.end() && next->is_string())
        r.next_page_uri = next->get<std::string>();
    return r;
}

LookupResult TwilioClient::find_message(const std::string& to, const std::string& body,
                                        std::chrono::system_clock::time_point since) {
    CURL* c = curl_.get();
    std::string url = fmt::format("{}/2010-04-01/Accounts/{}/Messages.json?To={}&PageSize=50",
                                  base_url_, account_sid_, escape(c, to));
    if (service_sid_.empty()) url += "&From=" + escape(c, from_);
    // Newest first: page on until a message older than `since` shows up (an alert storm to
    // one number can push the one we look for off the first page).
    for (int page = 0; page < kMaxLookupPages; ++page) {
        std::string response;
        SendResult r = perform(url, nullptr, &response);
        if (r.kind != SendResult::Kind::Sent)
            return LookupResult{LookupResult::Kind::Error, "", r.error, ""};
        LookupResult found = match_message_list(response, body, since);
        if (found.kind != LookupResult::Kind::NotFound || found.next_page_uri.empty()) return found;
        if (found.next_page_uri.front() != '/')
            return LookupResult{LookupResult::Kind::Error, "", "unexpected next_page_uri", ""};
        url = base_url_ + found.next_page_uri;  // a path: it stays on the configured host
    }
    return LookupResult{LookupResult::Kind::Error, "", "message list too long to search", ""};
}

SendResult TwilioClient::perform(const std::string& url, const std::string* post_fields,
                                 std::string* response) {
    CURL* c = curl_.get();
    Captured cap;
    Upload upload{post_fields ? std::string_view(*post_fields) : std::string_view()};
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_reset(c);  // keeps the connection cache
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty()) {
        // An extra bundle, trusted besides the system store.
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
        curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::min(timeout_s_, 10L));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s_);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret_.c_str());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sms-milter/" SMS_MILTER_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cap);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &cap);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (post_fields) {
        // The body goes through a read callback that cannot rewind: libcurl then never resends
        // a POST on its own after a reused connection died mid-request (Twilio may already
        // have created the message); it fails with CURLE_SEND_FAIL_REWIND instead.
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(post_fields->size()));
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &upload);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, no_seek);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    if (rc != CURLE_OK) {
        SendResult r;
        long sent_bytes = 0;
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent_bytes);
        r.kind = request_never_sent(rc) || sent_bytes == 0 ? SendResult::Kind::Retry
                                                           : SendResult::Kind::Ambiguous;
        r.error = fmt::format("{}: {}", curl_easy_strerror(rc), errbuf[0] ? errbuf : "no detail");
        return r;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (response) *response = cap.body;
    return classify_response(status, cap.body, cap.retry_after);
}

}  // namespace smsm
