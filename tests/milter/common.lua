-- Shared helpers for the miltertest scripts: connect to the sms-milter under test (the
-- runner passes its socket as -D socket=...) and fail loudly on any protocol error.
-- miltertest exits 1 on a Lua error but does not print it: say it first.
function fail(text)
	print("miltertest: " .. text)
	error(text)
end

function must(result, what)
	if result ~= nil then
		fail(what .. ": " .. tostring(result))
	end
end

function open_session(client_ip)
	local conn = mt.connect(socket, 40, 0.25)
	if conn == nil then
		fail("cannot connect to " .. socket)
	end
	if client_ip == "unspec" then
		must(mt.conninfo(conn, "localhost", "unspec"), "conninfo")
	else
		must(mt.conninfo(conn, "client.example", client_ip), "conninfo")
	end
	return conn
end

function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": reply " .. tostring(got) .. ", want " .. tostring(want))
	end
end

function rcpt(conn, addr, want)
	must(mt.rcptto(conn, addr), "rcptto " .. addr)
	expect(conn, want, "RCPT " .. addr)
end

-- No end-of-headers step: sms-milter negotiates it away (SMFIP_NOEOH), and miltertest
-- refuses to send a step the filter declined.
function send_text(conn, subject, body)
	must(mt.header(conn, "Subject", subject), "header")
	must(mt.bodystring(conn, body), "body")
	must(mt.eom(conn), "eom")
end
