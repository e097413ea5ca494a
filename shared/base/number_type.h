// libphonenumber's number types and their names in the config (allowed_number_types).
#pragma once

#include <optional>
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

}  // namespace smsm
