// Splitting an envelope address as the MTA hands it over ("<user@domain>", with or without
// brackets, possibly with a source route) into local part and domain.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smsm {

struct Address {
    std::string local;   // as given (case kept)
    std::string domain;  // lowercased, without a trailing dot
};

// Returns nullopt for the null sender "<>" or anything without "@".
std::optional<Address> parse_address(std::string_view raw);

// The address without RFC 5322 comments ("+1(415)555-1212@x" -> "+1555-1212@x"), as Postfix
// hands a recipient over to a milter (its address parser drops them). Quoted strings and
// backslash escapes are kept as they are.
std::string strip_address_comments(std::string_view raw);

// The bare "user@domain" form of an envelope address, lowercased, for sender matching.
std::string bare_address(std::string_view raw);

// The envelope address without angle brackets (and source route), case kept: the sender as
// logs, jobs and notices name it.
std::string envelope_address(std::string_view raw);

// The address in angle brackets, as SMTP writes it (Postfix's cleanup passes the recipients
// of local mail without them; render's arguments may come without).
std::string bracketed(std::string_view raw);

}  // namespace smsm
