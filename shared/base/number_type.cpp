// libphonenumber's number types and their names in the config; see number_type.h.
#include "shared/base/number_type.h"

#include <cstddef>
#include <iterator>

namespace smsm {

namespace {
// In the order of libphonenumber's PhoneNumberType, which NumberType follows.
constexpr std::string_view kTypeNames[] = {
    "fixed_line",  "mobile",  "fixed_line_or_mobile", "toll_free", "premium_rate",
    "shared_cost", "voip",    "personal_number",      "pager",     "uan",
    "voicemail",   "unknown",
};
static_assert(std::size(kTypeNames) == static_cast<std::size_t>(NumberType::Unknown) + 1);
}  // namespace

std::string_view number_type_name(NumberType t) {
    return kTypeNames[static_cast<std::size_t>(t)];
}

std::optional<NumberType> number_type_from_name(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kTypeNames); ++i)
        if (kTypeNames[i] == name) return static_cast<NumberType>(i);
    return std::nullopt;
}

}  // namespace smsm
