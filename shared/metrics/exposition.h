// Writes the Prometheus text exposition format (version 0.0.4): a family's # HELP and # TYPE
// lines, then its samples, label values escaped as the format requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/metrics/registry.h"

namespace smsm::metrics {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class TextWriter {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, std::uint64_t value);
    void sample(std::string_view name, const Labels& labels, double value);
    void histogram(std::string_view name, const Labels& labels, const Histogram::Snapshot& h);
    const std::string& text() const { return out_; }

  private:
    void series(std::string_view name, const Labels& labels, std::string_view extra_name = {},
                std::string_view extra_value = {});
    std::string out_;
};

}  // namespace smsm::metrics
