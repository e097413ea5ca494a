// Bounded capture of a message for its SMS text. Up to `limit` bytes are kept as they come;
// past that the capture only skims: it keeps MIME boundary lines ("--...") and a window of
// the start of each later part (its headers and first bytes), so that the text part behind
// a 20 MiB attachment still reaches the MIME parser while memory stays bounded by
// limit + kOverflowBudget.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smsm {

class BodyCapture {
  public:
    static constexpr std::size_t kOverflowBudget = 256 * 1024;  // kept past the limit, in all
    static constexpr std::size_t kPartWindow = 64 * 1024;       // kept of each later part

    explicit BodyCapture(std::size_t limit) : limit_(limit) {}

    void append(std::string_view chunk);
    const std::string& data() const { return data_; }
    std::string& data() { return data_; }
    bool cut() const { return dropped_ > 0; }
    std::size_t dropped() const { return dropped_; }

  private:
    void skim_line(std::string_view line);
    void keep(std::string_view bytes);

    std::size_t limit_;
    std::string data_;
    std::string carry_;  // an incomplete line while skimming (bounded)
    bool carry_overflowed_ = false;
    std::size_t overflow_used_ = 0;
    std::size_t window_left_ = 0;
    std::size_t dropped_ = 0;
};

}  // namespace smsm
