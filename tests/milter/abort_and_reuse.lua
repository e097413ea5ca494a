-- Several messages per connection with aborts at any point, a message without SMS
-- recipients (accepted untouched at DATA), and a message with no text (550 5.6.0).
dofile(dir .. "/common.lua")

local conn = open_session("127.0.0.1")
-- Abort right after MAIL, then after RCPT, then after headers.
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.abort(conn), "abort after MAIL")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+14155550125@sms.example.com>", SMFIR_CONTINUE)
must(mt.abort(conn), "abort after RCPT")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+14155550125@sms.example.com>", SMFIR_CONTINUE)
must(mt.header(conn, "Subject", "aborted"), "header")
must(mt.abort(conn), "abort after a header")

-- No SMS recipients: the milter steps aside at DATA.
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<ops@example.org>", SMFIR_CONTINUE)
must(mt.data(conn), "data")
expect(conn, SMFIR_ACCEPT, "DATA without SMS recipients")
mt.disconnect(conn)

-- No text at all.
conn = open_session("127.0.0.1")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.macro(conn, SMFIC_RCPT, "i", "MTNOTEXT3"), "macro")
rcpt(conn, "<+14155550126@sms.example.com>", SMFIR_CONTINUE)
must(mt.header(conn, "From", "alerts@example.com"), "header")
must(mt.bodystring(conn, "\r\n  \r\n"), "body")
must(mt.eom(conn), "eom")
expect(conn, SMFIR_REPLYCODE, "EOM of a message with no text")

-- The connection still works after a reject at end of message.
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.macro(conn, SMFIC_RCPT, "i", "MTAFTER4"), "macro")
rcpt(conn, "<+14155550127@sms.example.com>", SMFIR_CONTINUE)
send_text(conn, "after", "still here\r\n")
expect(conn, SMFIR_DISCARD, "EOM after a rejected message")
mt.disconnect(conn)
