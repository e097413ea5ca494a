-- RCPT replies (SPEC §5): allowed numbers continue, bad numbers get 5.1.1, disallowed
-- country, client and sender get 5.7.1, ordinary recipients are never touched.
dofile(dir .. "/common.lua")

local conn = open_session("127.0.0.1")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+14155550123@sms.example.com>", SMFIR_CONTINUE)
rcpt(conn, "<415.555.0123@SMS.Example.COM>", SMFIR_CONTINUE)
rcpt(conn, "<12@sms.example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<not-a-number@sms.example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<+33612345678@sms.example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<ops@example.org>", SMFIR_CONTINUE)
must(mt.abort(conn), "abort")

-- A sender outside allowed_senders.
must(mt.mailfrom(conn, "<evil@example.org>"), "mailfrom")
rcpt(conn, "<+14155550123@sms.example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<ops@example.org>", SMFIR_CONTINUE)
mt.disconnect(conn)

-- A client outside allowed_clients: gateway recipients refused, others untouched.
conn = open_session("192.0.2.7")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+14155550123@sms.example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<ops@example.org>", SMFIR_CONTINUE)
mt.disconnect(conn)

-- A local submission (no client address, as Sendmail passes sendmail(1) mail) with
-- local_submission = no: the MTA may not be able to refuse a recipient of local mail, so RCPT
-- continues and end of message refuses the SMS-only message.
conn = open_session("unspec")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+14155550123@sms.example.com>", SMFIR_CONTINUE)
send_text(conn, "DISK FULL", "db1\r\n")
expect(conn, SMFIR_REPLYCODE, "EOM of a local submission")
mt.disconnect(conn)
