// The sender's transport to Twilio over libcurl's multi interface.
#include "shared/twilio/twilio_multi.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "shared/twilio/twilio_request.h"

namespace smsm {

namespace {

struct EasyDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};

void check(CURLMcode rc, const char* what) {
    if (rc != CURLM_OK)
        throw std::runtime_error(fmt::format("{}: {}", what, curl_multi_strerror(rc)));
}

// Blocking lookups for the sender's helper thread.
class ClientLookup final : public MessageLookup {
  public:
    explicit ClientLookup(const Config& cfg) : client_(cfg) {}
    LookupResult find_message(const std::string& to, const std::string& body,
                              std::chrono::system_clock::time_point since,
                              const std::set<std::string>& taken) override {
        return client_.find_message(to, body, since, taken);
    }

  private:
    TwilioClient client_;
};

}  // namespace

struct TwilioMulti::State {
    struct Transfer {
        std::int64_t tag;
        Easy easy;
        std::unique_ptr<TwilioRequest> request;
    };

    explicit State(const Config& cfg)
        : ep(cfg), max(static_cast<std::size_t>(cfg.send_concurrency)), multi(curl_multi_init()) {
        if (!multi) throw std::runtime_error("curl_multi_init failed");
        long n = static_cast<long>(max);
        check(curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX),
              "CURLMOPT_PIPELINING");
        check(curl_multi_setopt(multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, n),
              "CURLMOPT_MAX_HOST_CONNECTIONS");
        check(curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, n), "CURLMOPT_MAXCONNECTS");
    }
    ~State() {
        for (auto& [easy, t] : active) curl_multi_remove_handle(multi.get(), easy);
    }

    TwilioEndpoint ep;
    std::size_t max;
    std::unique_ptr<CURLM, MultiDeleter> multi;
    std::map<CURL*, Transfer> active;
    std::vector<Easy> idle;  // easy handles kept for the next requests
};

TwilioMulti::TwilioMulti(const Config& cfg) : state_(std::make_unique<State>(cfg)) {}

TwilioMulti::~TwilioMulti() = default;

void TwilioMulti::submit(std::int64_t tag, const std::string& to, const std::string& body) {
    State& s = *state_;
    Easy easy;
    if (!s.idle.empty()) {
        easy = std::move(s.idle.back());
        s.idle.pop_back();
    } else {
        easy.reset(curl_easy_init());
        if (!easy) throw std::runtime_error("curl_easy_init failed");
    }
    CURL* c = easy.get();
    auto request = std::make_unique<TwilioRequest>(c, s.ep, s.ep.messages_url(),
                                                   s.ep.create_fields(c, to, body));
    // While the first connection is being set up, wait to learn whether it multiplexes
    // (HTTP/2) instead of opening one per request right away.
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    check(curl_multi_add_handle(s.multi.get(), c), "curl_multi_add_handle");
    s.active.emplace(c, State::Transfer{tag, std::move(easy), std::move(request)});
}

std::size_t TwilioMulti::in_flight() const {
    return state_->active.size();
}

std::vector<SmsDone> TwilioMulti::run(std::chrono::steady_clock::time_point until) {
    State& s = *state_;
    std::vector<SmsDone> done;
    auto collect = [&] {
        int running = 0;
        check(curl_multi_perform(s.multi.get(), &running), "curl_multi_perform");
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(s.multi.get(), &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL* c = m->easy_handle;
            CURLcode rc = m->data.result;
            curl_multi_remove_handle(s.multi.get(), c);
            auto it = s.active.find(c);
            if (it == s.active.end()) continue;
            done.push_back({it->second.tag, it->second.request->finish(rc)});
            if (s.idle.size() < s.max) s.idle.push_back(std::move(it->second.easy));
            s.active.erase(it);
        }
    };
    collect();
    if (!done.empty()) return done;
    // Rounded up: woken before `until`, the sender would find nothing to do and poll again
    // with no wait until it came (twilio_send_rate waits to the millisecond).
    auto wait =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
            .count();
    // libcurl shortens the wait to its own next timeout (connect, request timeouts).
    int ms = static_cast<int>(std::clamp<long long>(wait, 0, INT_MAX));
    check(curl_multi_poll(s.multi.get(), nullptr, 0, ms, nullptr), "curl_multi_poll");
    collect();
    return done;
}

void TwilioMulti::wake() {
    curl_multi_wakeup(state_->multi.get());
}

TwilioFactory twilio_over_https() {
    return {[](const Config& cfg) -> std::unique_ptr<SmsTransport> {
                return std::make_unique<TwilioMulti>(cfg);
            },
            [](const Config& cfg) -> std::unique_ptr<MessageLookup> {
                return std::make_unique<ClientLookup>(cfg);
            }};
}

}  // namespace smsm
