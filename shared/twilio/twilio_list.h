// The lookup before a resend, as Twilio's message list really behaves: one walk through the
// pages of the list (To, and From when set) looking for this job's message.
//
// What the list does that matters here (issue 11):
//  - it is sorted by date_sent, newest first; a message still queued has date_sent null,
//    and where those sort is undocumented (first or last);
//  - it lags: a new message may be missing from it for minutes (the sender therefore asks
//    twice, lookup_recheck_time apart, before it resends);
//  - a trial account stores the body with the prefix kTrialPrefix.
// So the walk never stops on a null date_sent: it stops once a dated message older than the
// job has been seen and null-dated ones are known to sort first (one came before the first
// dated message), or at the end of the list. A message whose SID the outbox gave another job
// is never this job's.
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "shared/twilio/twilio.h"

namespace smsm {

// The prefix Twilio documents for bodies sent from a trial account.
inline constexpr const char* kTrialPrefix = "Sent from your Twilio trial account - ";

// The same text, as sent (`sent`) and as Twilio's list shows it (`stored`).
bool same_text(const std::string& stored, const std::string& sent);

class ListScan {
  public:
    // A message with this body, created at or after `since`, whose SID is not in `taken`.
    ListScan(std::string body, std::chrono::system_clock::time_point since,
             std::set<std::string> taken);

    // One page (the JSON of GET Messages.json): Found, Error (not a message list), or
    // NotFound with next_page_uri set while the walk must go on.
    LookupResult page(const std::string& json_body);

  private:
    std::string body_;
    std::chrono::system_clock::time_point since_;
    std::set<std::string> taken_;
    bool dated_seen_ = false;   // a message with a date_sent
    bool nulls_first_ = false;  // a null date_sent came before the first dated message
    bool past_window_ = false;  // a dated message sent before `since`: the rest are older
};

}  // namespace smsm
