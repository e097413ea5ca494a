// Bounded capture of a message for its SMS text (see body_capture.h).
#include "shared/text/body_capture.h"

#include <algorithm>

namespace smsm {

namespace {
constexpr std::size_t kMaxBoundaryLine = 80;  // RFC 2046: boundaries are at most 70 characters
}

void BodyCapture::keep(std::string_view bytes) {
    std::size_t room = kOverflowBudget - std::min(overflow_used_, kOverflowBudget);
    std::size_t n = std::min(room, bytes.size());
    data_.append(bytes.substr(0, n));
    overflow_used_ += n;
    dropped_ += bytes.size() - n;
}

void BodyCapture::skim_line(std::string_view line) {
    bool boundary = line.size() <= kMaxBoundaryLine + 2 && line.substr(0, 2) == "--";
    if (boundary) {
        keep(line);
        window_left_ = kPartWindow;
        return;
    }
    std::size_t n = std::min(window_left_, line.size());
    keep(line.substr(0, n));
    window_left_ -= n;
    dropped_ += line.size() - n;
}

void BodyCapture::append(std::string_view chunk) {
    if (data_.size() < limit_) {
        std::size_t n = std::min(limit_ - data_.size(), chunk.size());
        data_.append(chunk.substr(0, n));
        chunk.remove_prefix(n);
        if (data_.size() < limit_) return;
        // The limit is reached; when it fell inside a line, the rest of that line is junk.
        if (data_.back() != '\n') {
            data_.append("\r\n");
            carry_overflowed_ = true;
        }
    }
    while (!chunk.empty()) {
        auto nl = chunk.find('\n');
        std::string_view piece =
            chunk.substr(0, nl == std::string_view::npos ? chunk.size() : nl + 1);
        chunk.remove_prefix(piece.size());
        if (nl == std::string_view::npos) {  // an incomplete line: carry a bounded part of it
            std::size_t room = kMaxBoundaryLine + 4 - std::min(carry_.size(), kMaxBoundaryLine + 4);
            if (piece.size() > room) carry_overflowed_ = true;
            carry_.append(piece.substr(0, std::min(room, piece.size())));
            dropped_ += piece.size() - std::min(room, piece.size());
            return;
        }
        if (carry_overflowed_) {  // the end of a long line: never a boundary
            std::string line = carry_ + std::string(piece);
            carry_.clear();
            carry_overflowed_ = false;
            std::size_t n = std::min(window_left_, line.size());
            keep(std::string_view(line).substr(0, n));
            window_left_ -= n;
            dropped_ += line.size() - n;
            continue;
        }
        if (carry_.empty()) {
            skim_line(piece);
        } else {
            std::string line = carry_ + std::string(piece);
            carry_.clear();
            skim_line(line);
        }
    }
}

}  // namespace smsm
