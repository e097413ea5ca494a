// `sms-milter render`: the whole decision path on a message file or stdin, with no network
// and without changing the outbox: for each recipient the SMTP reply it would get, or the
// number, SMS text, encoding and segment count, the rate limits' counts and whether
// storm_window would hold it back. --json prints one object per line.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "milter/commands.h"
#include "milter/render_limits.h"
#include "shared/base/log.h"
#include "shared/config_load/load_config.h"
#include "shared/policy/address.h"
#include "shared/session/session.h"
#include "shared/text/message_text.h"
#include "shared/text/segments.h"

namespace smsm {

namespace {

constexpr const char* kRenderUsage =
    "usage: sms-milter render [-c FILE] --from ADDR --to RCPT [--to RCPT...] [--client IP | "
    "--local] [--sasl USER] [--json] [MESSAGE-FILE]\n"
    "--from is required: the sender policy depends on it (--from '' for the null sender <>)\n";

struct RenderArgs {
    std::string from, client = "127.0.0.1", sasl, file;
    std::vector<std::string> to;
    bool json = false;
    bool has_from = false;
    bool local = false;  // as if submitted on the MTA host (sendmail(1))
};

// Feeds a message to Message the way libmilter does: one call per (unfolded) header, then
// the body in chunks.
void feed(std::istream& in, Message& m) {
    std::string line, name, value;
    auto flush = [&] {
        if (!name.empty()) m.header(name, value);
        name.clear();
        value.clear();
    };
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) break;
        if ((line[0] == ' ' || line[0] == '\t') && !name.empty()) {
            value += "\r\n" + line;
            continue;
        }
        flush();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;  // not a header; MTAs would not pass it either
        name = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    }
    flush();
    std::string chunk(64 * 1024, '\0');
    std::string pending;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pending += line + "\r\n";
        if (pending.size() >= chunk.size()) {
            m.body(pending);
            pending.clear();
        }
    }
    m.body(pending);
}

int parse_args(const Args& args, RenderArgs& r) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        bool has_value = i + 1 < args.size();
        if (a == "--json") {
            r.json = true;
        } else if (a == "--local") {
            r.local = true;
        } else if (a == "--from" && has_value) {
            r.from = args[++i];
            r.has_from = true;
        } else if (a == "--to" && has_value) {
            r.to.push_back(args[++i]);
        } else if (a == "--client" && has_value) {
            r.client = args[++i];
        } else if (a == "--sasl" && has_value) {
            r.sasl = args[++i];
        } else if ((a == "-" || (!a.empty() && a.front() != '-')) && r.file.empty()) {
            r.file = a;
        } else {
            return 2;
        }
    }
    return r.to.empty() || !r.has_from ? 2 : 0;
}

}  // namespace

int cmd_render(const Args& argv) {
    Args args = argv;
    std::string path = take_config_option(args);
    RenderArgs r;
    if (parse_args(args, r) != 0) {
        fmt::print(stderr, "{}", kRenderUsage);
        return 2;
    }
    ConfigLoad load = load_config(path, /*skip_secrets=*/true);
    for (const auto& e : load.errors) fmt::print(stderr, "{}\n", e);
    if (!load.config) return 1;
    const Config& cfg = *load.config;
    log::init(LogTo::Nowhere, false);
    message_text_init();

    auto client = IpAddress::parse(r.client);
    if (!client) {
        fmt::print(stderr, "sms-milter render: \"{}\" is not an IP address\n", r.client);
        return 2;
    }
    Envelope env{client, bracketed(r.from), r.sasl, r.local};
    Message message(load.config, env);
    std::vector<RcptDecision> decisions;
    for (auto& to : r.to) {
        // As the MTA hands it over: Postfix drops comments ("+1(415)555-1212@..." reaches
        // the milter as "+1555-1212@...").
        std::string as_given = bracketed(to);
        to = bracketed(strip_address_comments(to));
        if (to != as_given && !r.json)
            fmt::print("{}: the MTA hands this address over as {} (comments dropped)\n", as_given,
                       to);
        message.rcpt(to, "render", &decisions.emplace_back());
    }
    if (r.file.empty() || r.file == "-") {
        feed(std::cin, message);
    } else {
        std::ifstream in(r.file, std::ios::binary);
        if (!in) {
            fmt::print(stderr, "sms-milter render: cannot open {}\n", r.file);
            return 1;
        }
        feed(in, message);
    }
    std::string text = message.sms_text();
    SegmentCount seg = count_segments(text);
    RenderLimits limits(cfg);

    for (std::size_t i = 0; i < r.to.size(); ++i) {
        const RcptDecision& d = decisions[i];
        Reply reply = d.reply;
        if (d.gateway && reply.action == Reply::Action::Continue)
            if (auto refused = Message::text_refusal(text)) reply = *refused;
        LimitsVerdict verdict;
        if (d.gateway && reply.action == Reply::Action::Continue) {
            std::vector<std::string> numbers;
            for (const auto& n : d.numbers) numbers.push_back(n.e164);
            verdict = limits.check(env.sender, numbers, text);
            if (verdict.refused) reply = *verdict.refused;
        }
        bool sms = d.gateway && reply.action == Reply::Action::Continue;
        if (r.json) {
            nlohmann::json j{{"rcpt", bracketed(r.to[i])}};
            if (!d.gateway) {
                j["result"] = "ignore";
            } else if (!sms) {
                j["result"] = reply.action == Reply::Action::Reject ? "reject" : "tempfail";
                j["reply"] = reply.str();
                if (cfg.sender_rules) j["sender_rule"] = d.rule_line;
            } else {
                j.update({{"result", "sms"},
                          {"text", text},
                          {"encoding", encoding_name(seg.encoding)},
                          {"segments", seg.segments},
                          {"units", seg.units}});
                if (d.number) {
                    j.update({{"number", d.number->e164},
                              {"region", d.number->region},
                              {"type", number_type_name(d.number->type)}});
                } else {  // an alias: its numbers
                    j["alias"] = d.alias;
                    j["numbers"] = nlohmann::json::array();
                    for (const auto& n : d.numbers)
                        j["numbers"].push_back({{"number", n.e164},
                                                {"region", n.region},
                                                {"type", number_type_name(n.type)}});
                }
                if (d.carrier) j["carrier"] = d.carrier->carrier;
                if (cfg.sender_rules) j["sender_rule"] = d.rule_line;
            }
            if (verdict.json.is_object()) j.update(verdict.json);
            fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        } else if (!d.gateway) {
            fmt::print("{}: not an SMS recipient, delivered as usual\n", bracketed(r.to[i]));
        } else if (!sms) {
            std::string why;
            if (cfg.sender_rules && reply.str() == replies::destination_denied().str())
                why = d.rule_line ? fmt::format(" (sender_rules line {})", d.rule_line)
                                  : " (no sender_rules line for this sender)";
            fmt::print("{}: {}{}\n", bracketed(r.to[i]), reply.str(), why);
            for (const auto& line : verdict.lines) fmt::print("  {}\n", line);
        } else {
            std::string to;
            for (const auto& n : d.numbers)
                to += fmt::format(
                    "{}{} ({}, {}{})", to.empty() ? "" : ", ", n.e164, n.region,
                    number_type_name(n.type),
                    d.carrier ? fmt::format(", {} carrier domain", d.carrier->carrier) : "");
            if (!d.alias.empty())
                to = fmt::format("alias {} ({} number{}): {}", d.alias, d.numbers.size(),
                                 d.numbers.size() == 1 ? "" : "s", to);
            if (d.rule_line) to += fmt::format(", allowed by sender_rules line {}", d.rule_line);
            fmt::print("{}: SMS to {}, {}, {} segment{}, {} {}\n", bracketed(r.to[i]), to,
                       encoding_name(seg.encoding), seg.segments, seg.segments == 1 ? "" : "s",
                       seg.units, seg.encoding == Encoding::Gsm7 ? "septets" : "UTF-16 units");
            std::string indented = "    ";
            for (char c : text) indented += c == '\n' ? std::string("\n    ") : std::string(1, c);
            fmt::print("{}\n", indented);
            for (const auto& line : verdict.lines) fmt::print("  {}\n", line);
        }
    }
    return 0;
}

}  // namespace smsm
