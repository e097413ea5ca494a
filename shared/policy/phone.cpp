// Phone numbers: the local part of a gateway address to E.164, with libphonenumber.
#include "shared/policy/phone.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_map>

namespace smsm {

namespace {
using i18n::phonenumbers::PhoneNumberUtil;

constexpr std::size_t kMaxLocalPart = 64;  // RFC 5321 local-part limit
constexpr std::size_t kParsedKept = 4096;

std::optional<PhoneNumber> try_parse(const std::string& text, const std::string& region) {
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    i18n::phonenumbers::PhoneNumber n;
    if (util.Parse(text, region, &n) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
    if (!util.IsValidNumber(n)) return std::nullopt;
    PhoneNumber out;
    util.Format(n, PhoneNumberUtil::E164, &out.e164);
    util.GetRegionCodeForNumber(n, &out.region);
    out.type = static_cast<NumberType>(util.GetNumberType(n));
    return out;
}

// NumberType (shared/base/number_type.h) follows libphonenumber's PhoneNumberType.
static_assert(static_cast<int>(PhoneNumberUtil::FIXED_LINE) ==
              static_cast<int>(NumberType::FixedLine));
static_assert(static_cast<int>(PhoneNumberUtil::PREMIUM_RATE) ==
              static_cast<int>(NumberType::PremiumRate));
static_assert(static_cast<int>(PhoneNumberUtil::VOICEMAIL) ==
              static_cast<int>(NumberType::Voicemail));
static_assert(static_cast<int>(PhoneNumberUtil::UNKNOWN) == static_cast<int>(NumberType::Unknown));
}  // namespace

std::optional<PhoneNumber> parse_phone(std::string_view local_part,
                                       const std::string& default_region) {
    if (local_part.empty() || local_part.size() > kMaxLocalPart) return std::nullopt;
    // Only characters people put in numbers: digits, a leading '+', and separators.
    bool ok = std::all_of(local_part.begin(), local_part.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-' || c == '(' || c == ')';
    });
    if (!ok || local_part.find('+', 1) != std::string_view::npos) return std::nullopt;
    // Alerts go to the same few on-call numbers again and again, and libphonenumber's regular
    // expressions cost about 0.3 million instructions a number: answers are kept, at most
    // kParsedKept of them (then forgotten all at once, so hostile input cannot grow it).
    static std::mutex mutex;
    static std::unordered_map<std::string, std::optional<PhoneNumber>> parsed;
    std::string key = default_region + '\0' + std::string(local_part);
    {
        std::lock_guard lock(mutex);
        if (auto it = parsed.find(key); it != parsed.end()) return it->second;
    }
    std::string text(local_part);
    std::optional<PhoneNumber> n = try_parse(text, default_region);
    if (!n && text.front() != '+') n = try_parse("+" + text, default_region);
    std::lock_guard lock(mutex);
    if (parsed.size() >= kParsedKept) parsed.clear();
    parsed.emplace(std::move(key), n);
    return n;
}

bool is_supported_region(const std::string& region) {
    static const std::set<std::string> regions = [] {
        std::set<std::string> r;
        PhoneNumberUtil::GetInstance()->GetSupportedRegions(&r);
        return r;
    }();
    return regions.count(region) != 0;
}

}  // namespace smsm
