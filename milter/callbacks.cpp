// The libmilter glue. Each callback fetches its context and runs its body through guard(),
// the one exception firewall: nothing may cross libmilter's C frames, and any failure becomes
// a 451 4.3.0 tempfail. State lives behind smfi_setpriv (the worker pool moves a connection
// between threads), never in thread-locals.
#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>

#include <chrono>
#include <new>
#include <optional>
#include <string>

#include "shared/base/log.h"
#include "shared/session/end_of_message.h"
#include "shared/session/session.h"

namespace smsm {

namespace {

MilterServices* g_services = nullptr;

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v ? v : "";
}

Connection* conn_of(SMFICTX* ctx) {
    return static_cast<Connection*>(smfi_getpriv(ctx));
}

sfsistat to_status(SMFICTX* ctx, const Reply& r) {
    switch (r.action) {
        case Reply::Action::Continue:
            return SMFIS_CONTINUE;
        case Reply::Action::Accept:
            return SMFIS_ACCEPT;
        case Reply::Action::Discard:
            return SMFIS_DISCARD;
        case Reply::Action::Reject:
        case Reply::Action::Tempfail:
            // A custom 5xx needs SMFIS_REJECT and a 4xx SMFIS_TEMPFAIL; texts carry no '%'.
            smfi_setreply(ctx, const_cast<char*>(r.rcode.c_str()),
                          const_cast<char*>(r.xcode.c_str()), const_cast<char*>(r.text.c_str()));
            return r.action == Reply::Action::Reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    return SMFIS_TEMPFAIL;
}

// The exception firewall.
template <typename F>
sfsistat guard(SMFICTX* ctx, const char* stage, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        log::error(log::Qid{macro(ctx, "i")}, "{}: {}", stage, e.what());
    } catch (...) {
        log::error(log::Qid{macro(ctx, "i")}, "{}: unknown exception", stage);
    }
    try {
        return to_status(ctx, replies::internal());
    } catch (...) {
        return SMFIS_TEMPFAIL;
    }
}

std::optional<IpAddress> address_of(const _SOCK_ADDR* sa) {
    if (!sa) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    else
        return std::nullopt;
    return IpAddress::parse(buf);
}

// Mail submitted on the MTA host itself has no SMTP client. Sendmail then passes no address;
// Postfix (non_smtpd_milters: sendmail(1) through pickup, and smtpd serving `sendmail -bs` on
// a pipe) calls it "localhost" at 127.0.0.1 (or ::1) with port 0, which no TCP client can
// have.
bool is_local_submission(const _SOCK_ADDR* sa) {
    if (!sa) return true;
    if (sa->sa_family == AF_INET) return reinterpret_cast<const sockaddr_in*>(sa)->sin_port == 0;
    if (sa->sa_family == AF_INET6) return reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port == 0;
    return true;  // a unix socket or an unknown kind of client: not a network client
}

// Protocol economy: the MTA skips the steps this filter does not use (HELO, unknown
// commands, end of headers) and waits for no reply to connect, MAIL, each header and each
// body chunk, whose answer is always "continue". Only the macros that are used are requested.
constexpr unsigned long kSkipSteps = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NOEOH;
constexpr unsigned long kNoReplySteps =
    SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY;

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                      unsigned long, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
    return guard(ctx, "negotiate", [&] {
        if ((f0 & SMFIF_DELRCPT) == 0) {
            log::error(
                "the MTA does not offer recipient removal; SMS recipients cannot be handled");
            return SMFIS_REJECT;
        }
        *pf0 = SMFIF_DELRCPT | (f0 & SMFIF_SETSYMLIST);
        *pf1 = f1 & (kSkipSteps | kNoReplySteps);
        *pf2 = *pf3 = 0;
        delete conn_of(ctx);  // negotiate starts a connection
        auto* c = new Connection;
        smfi_setpriv(ctx, c);
        c->no_reply_connect = (*pf1 & SMFIP_NR_CONN) != 0;
        c->no_reply_mail = (*pf1 & SMFIP_NR_MAIL) != 0;
        c->no_reply_content =
            (*pf1 & (SMFIP_NR_HDR | SMFIP_NR_BODY)) == (SMFIP_NR_HDR | SMFIP_NR_BODY);
        if (f0 & SMFIF_SETSYMLIST) {
            smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("{client_addr} v"));
            smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen}"));
            smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("i"));
            smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* hostaddr) {
    Connection* c = conn_of(ctx);
    sfsistat done = c && c->no_reply_connect ? SMFIS_NOREPLY : SMFIS_CONTINUE;
    sfsistat rc = guard(ctx, "connect", [&] {
        if (!c) {  // an MTA that skipped negotiation
            c = new Connection;
            smfi_setpriv(ctx, c);
        }
        c->mta_is_postfix = macro(ctx, "v").rfind("Postfix", 0) == 0;
        c->client = address_of(hostaddr);
        c->local_submission = is_local_submission(hostaddr);
        if (!c->client && hostaddr) c->client = IpAddress::parse(macro(ctx, "{client_addr}"));
        return done;
    });
    // Without a reply a failure cannot be answered here; MAIL then finds no connection state
    // and answers 451 4.3.0.
    if (rc != done && done == SMFIS_NOREPLY) {
        delete conn_of(ctx);
        smfi_setpriv(ctx, nullptr);
        return SMFIS_NOREPLY;
    }
    return rc;
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    Connection* c = conn_of(ctx);
    sfsistat done = c && c->no_reply_mail ? SMFIS_NOREPLY : SMFIS_CONTINUE;
    if (c) c->message.reset();  // never the last transaction's, whatever happens below
    sfsistat rc = guard(ctx, "mail", [&] {
        if (!c) return to_status(ctx, replies::internal());
        Envelope env{c->client, argv && argv[0] ? argv[0] : "", macro(ctx, "{auth_authen}"),
                     c->local_submission};
        c->message = std::make_unique<Message>(g_services->config->get(), std::move(env),
                                               g_services->limits, g_services->shared);
        return done;
    });
    // Without a reply a failure cannot be answered here; RCPT then finds no message and
    // answers 451 4.3.0.
    return rc != done && done == SMFIS_NOREPLY ? SMFIS_NOREPLY : rc;
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guard(ctx, "rcpt", [&] {
        Connection* c = conn_of(ctx);
        if (!c || !c->message || !argv || !argv[0]) return to_status(ctx, replies::internal());
        return to_status(ctx, c->message->rcpt(argv[0], macro(ctx, "i")));
    });
}

sfsistat on_data(SMFICTX* ctx) {
    return guard(ctx, "data", [&] {
        Connection* c = conn_of(ctx);
        if (!c || !c->message) return to_status(ctx, replies::internal());
        // Without SMS recipients this message is none of our business.
        if (!c->message->has_sms()) {
            c->message.reset();
            return SMFIS_ACCEPT;
        }
        return SMFIS_CONTINUE;
    });
}

// Headers and body chunks need no reply when negotiated so: a failure while capturing is
// remembered and answered with 451 4.3.0 at end of message.
template <typename F>
sfsistat capture(SMFICTX* ctx, const char* stage, F&& body) {
    Connection* c = conn_of(ctx);
    if (!c || !c->message) return to_status(ctx, replies::internal());
    sfsistat done = c->no_reply_content ? SMFIS_NOREPLY : SMFIS_CONTINUE;
    if (c->message->failed()) return done;
    sfsistat rc = guard(ctx, stage, [&] {
        body(*c->message);
        return done;
    });
    if (rc != done) {
        c->message->fail();
        return done == SMFIS_NOREPLY ? SMFIS_NOREPLY : rc;
    }
    return rc;
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return capture(ctx, "header",
                   [&](Message& m) { m.header(name ? name : "", value ? value : ""); });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* data, size_t len) {
    return capture(ctx, "body", [&](Message& m) {
        m.body(std::string_view(reinterpret_cast<const char*>(data), len));
    });
}

sfsistat on_eom(SMFICTX* ctx) {
    return guard(ctx, "eom", [&] {
        Connection* c = conn_of(ctx);
        if (!c || !c->message) return to_status(ctx, replies::internal());
        std::string qid = macro(ctx, "i");
        EomOutcome out = end_message(*c->message, qid, *g_services->outbox, g_services->sender,
                                     [ctx] { smfi_progress(ctx); });
        c->message.reset();
        // Postfix's inflow control (in_flow_delay, default 1s): cleanup(8) takes a token from
        // the master's flow pipe for each message it receives, and qmgr(8) puts one back for
        // each message it picks up from the incoming queue. A message the milter discards
        // never reaches the queue, so its token never comes back: once the pipe runs dry,
        // every further message waits in_flow_delay (1 msg/s per session). Removing every
        // recipient and accepting instead queues an empty message, which qmgr takes (the
        // token comes back), logs as "removed" and delivers to nobody. The MTA says who it
        // is in the v macro; others keep the plain discard.
        if (out.reply.action == Reply::Action::Discard && c->mta_is_postfix)
            out.reply.action = Reply::Action::Accept;
        for (const auto& rcpt : out.remove) {
            // The exact RCPT argument: Postfix matches it case-sensitively.
            if (smfi_delrcpt(ctx, const_cast<char*>(rcpt.c_str())) != MI_SUCCESS)
                log::warning(log::Qid{qid}, "cannot remove recipient {}", log::address(rcpt));
        }
        return to_status(ctx, out.reply);
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    return guard(ctx, "abort", [&] {
        if (Connection* c = conn_of(ctx)) c->message.reset();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_close(SMFICTX* ctx) {
    // May come before connect, with no private data.
    delete conn_of(ctx);
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

bool register_milter(MilterServices& services) {
    g_services = &services;
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("sms-milter");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_DELRCPT;
    desc.xxfi_connect = on_connect;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_header = on_header;
    desc.xxfi_body = on_body;
    desc.xxfi_eom = on_eom;
    desc.xxfi_abort = on_abort;
    desc.xxfi_close = on_close;
    desc.xxfi_data = on_data;
    desc.xxfi_negotiate = on_negotiate;
    return smfi_register(desc) == MI_SUCCESS;
}

}  // namespace smsm
