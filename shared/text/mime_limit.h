// What of a captured message the MIME parser gets to see. GMime builds the object tree of the
// whole message before we can look at it, and some input costs far more as objects than as
// bytes: about 1.3 KB per MIME part and 0.5 KB per header line whatever their size, and each
// address of an address field or parameter of a Content-Type or Content-Disposition field
// becomes an object of its own (up to 40 times its bytes). So one 1.8 MB message of 200,000
// empty parts, or of 170,000 header lines in one part, or with a 1 MB To: field in a
// forwarded message, costs 80 to 220 MB, and a byte limit alone does not bound memory.
//
// mime_limit() scans the raw bytes once and says where the parser must stop so that it builds
// at most `parts` parts and `header_lines` header lines, and sees at most `field_bytes` of
// address and parameter fields (From, Sender, Reply-To, To, Cc, Bcc, Content-Type,
// Content-Disposition); it also drops the top-level address fields that the SMS text never
// uses (Sender, Reply-To, To, Cc, Bcc) and keeps at most `from_bytes` of From. The alert text
// is in the first few parts, and an SMS holds at most 1,600 characters of it.
//
// The scan over-counts, never under-counts, what GMime can build (see mime_limit.cpp): a cut
// comes earlier than strictly needed, never later.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smsm {

struct MimeCaps {
    std::size_t parts = 256;              // lines that may open a MIME part ("--...")
    std::size_t header_lines = 4096;      // header field lines, all header blocks together
    std::size_t field_bytes = 64 * 1024;  // address and parameter fields, all together
    std::size_t from_bytes = 1024;        // the top-level From field(s)
};

struct MimeLimit {
    std::string top_headers;       // the top-level header block as the parser gets it
    std::size_t body_begin = 0;    // the parser then gets raw[body_begin, keep)
    std::size_t keep = 0;          //
    std::size_t parts = 0;         // counted within what the parser gets
    std::size_t header_lines = 0;  //
    std::size_t field_bytes = 0;   //
    bool cut = false;              // the parser does not get all of the message
};

MimeLimit mime_limit(std::string_view raw, const MimeCaps& caps = {});

}  // namespace smsm
