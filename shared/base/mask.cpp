// Masking of phone numbers and SMS addresses for log lines (SPEC §8: masked by default).
#include "shared/base/mask.h"

#include "shared/base/strings.h"

namespace smsm {

namespace {
// Keeps `head` leading and `tail` trailing characters, replacing the middle with "***".
std::string keep_ends(std::string_view s, std::size_t head, std::size_t tail) {
    if (s.size() <= head + tail) return std::string(s.size(), '*');
    return std::string(s.substr(0, head)) + "***" + std::string(s.substr(s.size() - tail));
}
}  // namespace

std::string mask_number(std::string_view number) {
    if (number.size() >= 10) return keep_ends(number, 5, 4);
    if (number.size() >= 6) return keep_ends(number, 2, 2);
    return std::string(number.size(), '*');
}

std::string mask_address(std::string_view address) {
    auto at = address.rfind('@');
    std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
    std::string_view rest = at == std::string_view::npos ? std::string_view{} : address.substr(at);
    std::string lead;
    if (!local.empty() && local.front() == '<') {
        lead = "<";
        local.remove_prefix(1);
    }
    // The local part may be a national number: keep only its last four characters.
    std::string masked =
        local.size() >= 8 ? "***" + std::string(local.substr(local.size() - 4)) : "***";
    return printable(lead + masked + std::string(rest));
}

}  // namespace smsm
