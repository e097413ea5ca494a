// The walk through Twilio's message list for the lookup before a resend (twilio_list.h).
#include "shared/twilio/twilio_list.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <utility>

namespace smsm {

bool same_text(const std::string& stored, const std::string& sent) {
    if (stored == sent) return true;
    std::size_t n = std::strlen(kTrialPrefix);
    return stored.size() == n + sent.size() && stored.compare(0, n, kTrialPrefix) == 0 &&
           stored.compare(n, std::string::npos, sent) == 0;
}

ListScan::ListScan(std::string body, std::chrono::system_clock::time_point since,
                   std::set<std::string> taken)
    : body_(std::move(body)), since_(since), taken_(std::move(taken)) {}

LookupResult ListScan::page(const std::string& json_body) {
    LookupResult r;
    auto json = nlohmann::json::parse(json_body, nullptr, false);
    auto list = json.is_object() ? json.find("messages") : json.end();
    if (!json.is_object() || list == json.end() || !list->is_array()) {
        r.error = "unexpected message list";
        return r;
    }
    auto text = [](const nlohmann::json& m, const char* key) {
        auto it = m.find(key);
        return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    for (const auto& m : *list) {
        if (!m.is_object()) continue;
        // The sort key. A date_sent that is null, missing or unreadable is "not sent yet":
        // it says nothing about where the window ends.
        auto sent = parse_rfc2822_date(text(m, "date_sent"));
        if (sent) {
            dated_seen_ = true;
            if (*sent < since_) past_window_ = true;
        } else if (!dated_seen_) {
            nulls_first_ = true;
        }
        auto created = parse_rfc2822_date(text(m, "date_created"));
        if (!created || *created < since_) continue;
        if (!same_text(text(m, "body"), body_)) continue;
        std::string sid = text(m, "sid");
        if (sid.empty() || taken_.count(sid)) continue;  // another job's message
        r.kind = LookupResult::Kind::Found;
        r.sid = sid;
        return r;
    }
    r.kind = LookupResult::Kind::NotFound;
    auto next = json.find("next_page_uri");
    // Past the window the rest is older, unless null dates sort last: then the messages
    // still queued come at the very end, and only the end of the list ends the walk.
    bool done = past_window_ && nulls_first_;
    if (!done && next != json.end() && next->is_string())
        r.next_page_uri = next->get<std::string>();
    return r;
}

}  // namespace smsm
