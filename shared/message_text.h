// Turning a captured mail (headers and raw body) into SMS text (SPEC §6), with GMime doing
// the MIME work: transfer encodings, charsets and RFC 2047 subjects.
#pragma once

#include <string>
#include <string_view>

namespace smsm {

struct MessageText {
    std::string subject;  // decoded, UTF-8, white space collapsed
    std::string body;     // decoded, UTF-8, shaped
};

// Call once at program start, before any thread starts.
void message_text_init();

// Parses a whole RFC 5322 message (CRLF or LF line ends).
MessageText extract_text(std::string_view raw_message);

// Shapes body text: drops the signature after "-- ", trims lines, collapses runs of white
// space and of blank lines.
std::string shape_body(std::string_view text);

// Subject, newline, body; either alone when the other is empty; cut to Twilio's 1600
// characters (counted in UTF-16 code units).
std::string compose_sms(const MessageText& m);

}  // namespace smsm
