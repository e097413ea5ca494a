// Turning a captured mail (headers and raw body) into SMS text (SPEC §6). GMime does the
// MIME work (transfer encodings, charsets, RFC 2047), libxml2 the HTML; we shape the text
// and fit it into the configured number of segments.
#pragma once

#include <string>
#include <string_view>

#include "shared/config/config.h"

namespace smsm {

struct MessageText {
    std::string subject;    // decoded, UTF-8, white space collapsed
    std::string body;       // decoded, UTF-8, shaped
    std::string from_name;  // display name of the first From mailbox, else its address
    std::string from_addr;  // address of the first From mailbox
    bool mime_cut = false;  // parsing stopped at the MIME structure budget (mime_limit.h)
};

struct TextOptions {
    std::string sms_template;  // empty: subject, newline, body
    std::string cut_marker;    // empty: none
    int max_segments = 4;
    bool transliterate = true;
};

TextOptions text_options(const Config& cfg);

// Call once at program start, before any thread starts.
void message_text_init();

// Parses a whole RFC 5322 message (CRLF or LF line ends). text/plain is preferred, text/html
// is the fallback; attachments are ignored; multiparts are walked. The first message/rfc822
// part (a forwarded mail, attached or inline) follows the text around it: its subject (unless
// it is the mail's own, "Fwd:" aside), then its text. Only
// the start of a message with more MIME parts or header lines than mime_limit() allows is
// parsed.
MessageText extract_text(std::string_view raw_message, std::string_view cut_marker = {});

// Shapes body text: drops the signature after "-- ", everything from the cut marker on,
// quoted reply lines ("> ...") with their "... wrote:" line, trims lines and collapses runs
// of white space and of blank lines. An inline forward ("---------- Forwarded message
// ---------", "-----Original Message-----", "Begin forwarded message:") keeps its text,
// ">"-quoted or not; of its header block only the subject is kept, and only when it is not
// `subject` (the mail's own, "Fwd:" and "Re:" aside).
std::string shape_body(std::string_view text, std::string_view cut_marker = {},
                       std::string_view subject = {});

// Trims lines and collapses runs of white space and of blank lines; nothing else.
std::string collapse_space(std::string_view text);

// The SMS text: the template (or subject, newline, body), GSM-7 look-alikes mapped when
// asked, cut to max_segments with a visible marker, never over 1600 characters.
std::string compose_sms(const MessageText& m, const TextOptions& options,
                        std::string_view envelope_sender = {});

// Checks a template; returns an error text, or empty when it is good.
std::string check_template(std::string_view tmpl);

}  // namespace smsm
