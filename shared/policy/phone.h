// Phone numbers: the local part of a gateway address to E.164, with libphonenumber.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shared/base/number_type.h"

namespace smsm {

struct PhoneNumber {
    std::string e164;    // "+14155551212"
    std::string region;  // "US"
    NumberType type = NumberType::Unknown;
};

// Parses "+14155551212", "4155551212", "415.555.1212", "1-415-555-1212" (national forms use
// default_region) and digits-only international forms ("447400123456"). Returns nullopt unless
// libphonenumber calls the result a valid number.
std::optional<PhoneNumber> parse_phone(std::string_view local_part,
                                       const std::string& default_region);

// Whether libphonenumber knows this ISO 3166 region code.
bool is_supported_region(const std::string& region);

}  // namespace smsm
