// Phone numbers: the local part of a gateway address to E.164, with libphonenumber.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smsm {

// libphonenumber's number types. US and Canadian numbering does not tell mobile from fixed
// line: their ordinary numbers are FixedLineOrMobile.
enum class NumberType {
    FixedLine,
    Mobile,
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    Uan,
    Voicemail,
    Unknown,
};

// The config name of a type ("premium_rate"), and back (nullopt for an unknown name).
std::string_view number_type_name(NumberType t);
std::optional<NumberType> number_type_from_name(std::string_view name);

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
