// One HTTP request to Twilio: libcurl options and the classification of its end.
#include "shared/twilio/twilio_request.h"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "shared/base/mask.h"
#include "shared/metrics/metrics.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxResponse = 1024 * 1024;
constexpr long kCaCacheSeconds = 86400;    // a changed system store is seen within a day
constexpr long kUploadBuffer = 16 * 1024;  // libcurl's smallest; a create is under 8 KiB

int no_seek(void*, curl_off_t, int) {
    return CURL_SEEKFUNC_CANTSEEK;
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

TwilioEndpoint::TwilioEndpoint(const Config& cfg)
    : account_sid(cfg.twilio_account_sid),
      user(cfg.twilio_user),
      secret(cfg.twilio_secret),
      from(cfg.twilio_from),
      service_sid(cfg.twilio_messaging_service_sid),
      base_url(cfg.twilio_api_url),
      ca_file(cfg.twilio_ca_file),
      timeout_s(static_cast<long>(cfg.twilio_timeout.count())) {}

std::string TwilioEndpoint::messages_url() const {
    return fmt::format("{}/2010-04-01/Accounts/{}/Messages.json", base_url, account_sid);
}

std::string url_escape(CURL* c, const std::string& s) {
    char* e = curl_easy_escape(c, s.data(), static_cast<int>(s.size()));
    if (!e) throw std::bad_alloc();
    std::string out(e);
    curl_free(e);
    return out;
}

std::string TwilioEndpoint::create_fields(CURL* c, const std::string& to,
                                          const std::string& body) const {
    std::string fields = "To=" + url_escape(c, to) + "&Body=" + url_escape(c, body);
    fields += service_sid.empty() ? "&From=" + url_escape(c, from)
                                  : "&MessagingServiceSid=" + url_escape(c, service_sid);
    // Our own transliteration (gsm_transliterate) decides the text: Twilio's Smart Encoding
    // (on by default in Messaging Services) would rewrite it, and the lookup before a resend
    // compares the text Twilio stored with the one sent.
    fields += "&SmartEncoded=false";
    return fields;
}

size_t TwilioRequest::on_body(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Captured*>(user);
    std::size_t len = size * n;
    if (c->body.size() + len > kMaxResponse) return 0;  // aborts the transfer
    c->body.append(data, len);
    return len;
}

size_t TwilioRequest::on_header(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Captured*>(user);
    std::string_view h(data, size * n);
    constexpr std::string_view kName = "retry-after:";
    if (h.size() > kName.size() && strncasecmp(h.data(), kName.data(), kName.size()) == 0) {
        long secs = std::strtol(std::string(h.substr(kName.size())).c_str(), nullptr, 10);
        if (secs > 0 && secs < 86400) c->retry_after = std::chrono::seconds(secs);
    }
    return size * n;
}

size_t TwilioRequest::on_read(char* buf, size_t size, size_t n, void* user) {
    auto* rest = static_cast<std::string_view*>(user);
    std::size_t len = std::min(size * n, rest->size());
    std::copy_n(rest->data(), len, buf);
    rest->remove_prefix(len);
    return len;
}

TwilioRequest::TwilioRequest(CURL* c, const TwilioEndpoint& ep, std::string url,
                             std::optional<std::string> post_fields)
    : c_(c), url_(std::move(url)), fields_(post_fields.value_or("")), unsent_(fields_) {
    curl_easy_reset(c);  // keeps the connection cache
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ep.ca_file.empty()) {
        // An extra bundle, trusted besides the system store (looked up in the hashed
        // directory as needed). libcurl cannot cache this store; it stays small.
        curl_easy_setopt(c, CURLOPT_CAINFO, ep.ca_file.c_str());
        curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
    } else {
        // The system bundle alone: libcurl then builds its store once and shares it among
        // all connections of a multi handle (CURLOPT_CA_CACHE_TIMEOUT) instead of parsing
        // the ~150 certificates again for each one (about 0.8 MB each). It caches nothing
        // while a CA directory is set too, as Debian's libcurl does by default; that
        // directory holds the same certificates. Only where a bundle is built in.
        char* bundle = nullptr;
        if (curl_easy_getinfo(c, CURLINFO_CAINFO, &bundle) == CURLE_OK && bundle && *bundle)
            curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    }
    curl_easy_setopt(c, CURLOPT_CA_CACHE_TIMEOUT, kCaCacheSeconds);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::min(ep.timeout_s, 10L));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, ep.timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, ep.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, ep.secret.c_str());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sms-milter/" SMS_MILTER_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cap_);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &cap_);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf_);
    if (post_fields) {
        // The body goes through a read callback that cannot rewind: libcurl then never resends
        // a POST on its own after a reused connection died mid-request (Twilio may already
        // have created the message); it fails with CURLE_SEND_FAIL_REWIND instead.
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(fields_.size()));
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &unsent_);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, no_seek);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBuffer);
    }
}

SendResult TwilioRequest::finish(CURLcode rc, std::string* response) {
    SendResult r = classify(rc, response);
    curl_off_t us = 0;
    curl_easy_getinfo(c_, CURLINFO_TOTAL_TIME_T, &us);
    metrics::count_twilio_answer(
        fields_.empty() ? metrics::TwilioRequest::Read : metrics::TwilioRequest::Create,
        r.http_status, r.code, static_cast<double>(us) / 1e6);
    return r;
}

SendResult TwilioRequest::classify(CURLcode rc, std::string* response) {
    CURL* c = c_;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    if (rc != CURLE_OK) {
        SendResult r;
        long sent_bytes = 0;
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent_bytes);
        r.kind = request_never_sent(rc) || sent_bytes == 0 ? SendResult::Kind::Retry
                                                           : SendResult::Kind::Ambiguous;
        // libcurl's detail may quote the URL, and a lookup's URL holds the number.
        r.error = mask_numbers_in_text(
            fmt::format("{}: {}", curl_easy_strerror(rc), errbuf_[0] ? errbuf_ : "no detail"));
        return r;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (response) *response = cap_.body;
    return classify_response(status, cap_.body, cap_.retry_after);
}

}  // namespace smsm
