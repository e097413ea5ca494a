-- After SIGUSR1 with France added to allowed_countries, a French number is accepted
-- (the runner rewrote the config and sent the signal before this script).
dofile(dir .. "/common.lua")

local conn = open_session("127.0.0.1")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
rcpt(conn, "<+33612345678@sms.example.com>", SMFIR_CONTINUE)
rcpt(conn, "<12@sms.example.com>", SMFIR_REPLYCODE)
mt.disconnect(conn)
