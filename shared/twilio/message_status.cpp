// Twilio message resources after the send: status, inbound replies, schedule, keywords.
#include "shared/twilio/message_status.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "shared/base/strings.h"
#include "shared/twilio/twilio.h"

namespace smsm {

namespace {

constexpr std::size_t kMaxField = 2000;  // a reply's body: Twilio allows 1600 characters

std::string text_field(const nlohmann::json& m, const char* key) {
    auto it = m.find(key);
    if (it == m.end() || !it->is_string()) return {};
    return it->get<std::string>().substr(0, kMaxField);
}

int int_field(const nlohmann::json& m, const char* key) {
    auto it = m.find(key);
    if (it == m.end()) return 0;
    if (it->is_number_integer()) return it->get<int>();
    if (it->is_string()) return std::atoi(it->get<std::string>().c_str());
    return 0;
}

}  // namespace

MessageStatus parse_message_status(const std::string& json_body) {
    MessageStatus s;
    auto json = nlohmann::json::parse(json_body, nullptr, false);
    if (!json.is_object() || !json.contains("status") || !json["status"].is_string()) {
        s.error = "unexpected message resource";
        return s;
    }
    s.ok = true;
    s.status = text_field(json, "status").substr(0, 32);
    s.error_code = int_field(json, "error_code");
    s.from = text_field(json, "from").substr(0, 32);
    return s;
}

bool is_final_status(const std::string& status) {
    return status == "delivered" || is_failed_status(status);
}

bool is_failed_status(const std::string& status) {
    return status == "undelivered" || status == "failed";
}

std::optional<std::int64_t> next_poll_time(const Config& cfg, int polls, std::int64_t sent_at,
                                           std::int64_t now) {
    const auto& schedule = cfg.status_poll_schedule;
    if (schedule.empty()) return std::nullopt;
    std::int64_t give_up = sent_at + cfg.status_poll_give_up.count();
    if (now >= give_up) return std::nullopt;
    auto i =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(polls, 0)), schedule.size() - 1);
    std::int64_t base = polls == 0 ? sent_at : now;
    return std::min(base + schedule[i].count(), give_up);
}

InboundPage parse_inbound_page(const std::string& json_body, std::int64_t since) {
    InboundPage page;
    auto json = nlohmann::json::parse(json_body, nullptr, false);
    auto list = json.is_object() ? json.find("messages") : json.end();
    if (!json.is_object() || list == json.end() || !list->is_array()) {
        page.error = "unexpected message list";
        return page;
    }
    page.ok = true;
    bool older_seen = false;
    for (const auto& m : *list) {
        if (!m.is_object()) continue;
        auto at = parse_rfc2822_date(text_field(m, "date_created"));
        if (!at) continue;
        std::int64_t t =
            std::chrono::duration_cast<std::chrono::seconds>(at->time_since_epoch()).count();
        if (t < since) {
            older_seen = true;
            continue;
        }
        if (text_field(m, "direction") != "inbound") continue;
        InboundMessage in{text_field(m, "sid").substr(0, 64), text_field(m, "from").substr(0, 32),
                          text_field(m, "to").substr(0, 32), text_field(m, "body"), t};
        if (in.sid.empty() || in.from.empty()) continue;
        page.messages.push_back(std::move(in));
    }
    auto next = json.find("next_page_uri");
    if (!older_seen && next != json.end() && next->is_string())
        page.next_page_uri = next->get<std::string>();
    return page;
}

std::string reply_keyword(const std::string& body) {
    std::string word(trim(body));
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    for (const char* w : {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
        if (word == w) return "STOP";
    for (const char* w : {"START", "YES", "UNSTOP"})
        if (word == w) return "START";
    for (const char* w : {"HELP", "INFO"})
        if (word == w) return "HELP";
    return {};
}

}  // namespace smsm
