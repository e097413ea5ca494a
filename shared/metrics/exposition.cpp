// Prometheus text exposition format; see exposition.h.
#include "shared/metrics/exposition.h"

#include <fmt/format.h>

#include <cmath>

namespace smsm::metrics {

namespace {

// Label values: backslash, double quote and newline escaped; HELP text: backslash, newline.
void escape(std::string& out, std::string_view v, bool quote) {
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
}

std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    return fmt::format("{}", v);
}

}  // namespace

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    escape(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void TextWriter::series(std::string_view name, const Labels& labels, std::string_view extra_name,
                        std::string_view extra_value) {
    out_ += name;
    if (labels.empty() && extra_name.empty()) return;
    out_ += '{';
    bool first = true;
    auto label = [&](std::string_view k, std::string_view v) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        escape(out_, v, true);
        out_ += '"';
    };
    for (const auto& [k, v] : labels) label(k, v);
    if (!extra_name.empty()) label(extra_name, extra_value);
    out_ += '}';
}

void TextWriter::sample(std::string_view name, const Labels& labels, std::uint64_t value) {
    series(name, labels);
    out_ += fmt::format(" {}\n", value);
}

void TextWriter::sample(std::string_view name, const Labels& labels, double value) {
    series(name, labels);
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
}

void TextWriter::histogram(std::string_view name, const Labels& labels,
                           const Histogram::Snapshot& h) {
    std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
        double le = i < h.bounds.size() ? h.bounds[i] : INFINITY;
        series(bucket, labels, "le", number(le));
        out_ += fmt::format(" {}\n", h.cumulative[i]);
    }
    series(std::string(name) + "_sum", labels);
    out_ += ' ' + number(h.sum) + '\n';
    series(std::string(name) + "_count", labels);
    out_ += fmt::format(" {}\n", h.cumulative.empty() ? 0 : h.cumulative.back());
}

}  // namespace smsm::metrics
