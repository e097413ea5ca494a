-- End of message: SMS recipients are removed with the exact RCPT string; the message is
-- discarded when nobody else is left, and continues for the ordinary recipients otherwise.
dofile(dir .. "/common.lua")

local conn = open_session("127.0.0.1")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.macro(conn, SMFIC_RCPT, "i", "MTDISCARD1"), "macro")
rcpt(conn, "<4155550123@SMS.Example.COM>", SMFIR_CONTINUE)
send_text(conn, "DISK FULL", "db1 at 99%\r\n")
expect(conn, SMFIR_DISCARD, "EOM of an SMS-only message")
if not mt.eom_check(conn, MT_RCPTDELETE, "<4155550123@SMS.Example.COM>") then
	fail("the SMS recipient was not removed with its exact RCPT string")
end

-- Second message on the same connection: an ordinary recipient keeps the message.
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.macro(conn, SMFIC_RCPT, "i", "MTMIXED2"), "macro")
rcpt(conn, "<ops@example.org>", SMFIR_CONTINUE)
rcpt(conn, "<+14155550124@sms.example.com>", SMFIR_CONTINUE)
send_text(conn, "mixed", "for both\r\n")
expect(conn, SMFIR_CONTINUE, "EOM of a mixed message")
if not mt.eom_check(conn, MT_RCPTDELETE, "<+14155550124@sms.example.com>") then
	fail("the SMS recipient of the mixed message was not removed")
end
if mt.eom_check(conn, MT_RCPTDELETE, "<ops@example.org>") then
	fail("the ordinary recipient was removed")
end
mt.disconnect(conn)
