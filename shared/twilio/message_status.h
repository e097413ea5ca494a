// Reading Twilio's message resources after the send (SPEC §9): the delivery status of one
// message (GET .../Messages/SM....json), the inbound messages of a list page (replies), the
// poll schedule, and the opt-out keywords of a reply. Pure functions, for unit tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.h"

namespace smsm {

// One message resource as the status poll reads it.
struct MessageStatus {
    bool ok = false;     // parsed; false: `error` says why
    std::string status;  // queued, sending, sent, delivered, undelivered, failed, ...
    int error_code = 0;  // 0: none
    std::string from;    // the number Twilio sent from (a Messaging Service picks one)
    std::string error;
};
MessageStatus parse_message_status(const std::string& json_body);

// delivered, undelivered and failed: the status will not change again.
bool is_final_status(const std::string& status);
// undelivered and failed: a permanent failure.
bool is_failed_status(const std::string& status);

// When the next poll of an SMS sent at `sent_at` falls due after `polls` polls, at `now`:
// status_poll_schedule[polls] later (the last time repeating), but no later than
// sent_at + status_poll_give_up; none once that time has passed (give up). Unix seconds.
std::optional<std::int64_t> next_poll_time(const Config& cfg, int polls, std::int64_t sent_at,
                                           std::int64_t now);

// An inbound message (a reply) from a list page.
struct InboundMessage {
    std::string sid;
    std::string from;
    std::string to;
    std::string body;
    std::int64_t at = 0;  // date_created, unix seconds
};
struct InboundPage {
    bool ok = false;
    std::string error;
    std::vector<InboundMessage> messages;  // inbound, created at or after `since`
    std::string next_page_uri;             // more to read: nothing older than since seen yet
};
// One page of GET .../Messages.json (newest first): the inbound messages since `since`.
InboundPage parse_inbound_page(const std::string& json_body, std::int64_t since);

// The opt-out and help keywords carriers and Twilio act on, as the reply's whole text
// (case and surrounding blanks ignored): "STOP" (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
// QUIT), "START" (START, YES, UNSTOP), "HELP" (HELP, INFO); empty for any other text.
std::string reply_keyword(const std::string& body);

}  // namespace smsm
