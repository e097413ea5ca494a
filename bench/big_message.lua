-- Drives one large message through the milter the way an MTA does: headers one by one, then
-- the body file in chunks, then end of message. Run by big_message.sh with
--   -D socket=inet:PORT@127.0.0.1 -D headers=FILE -D body=FILE -D chunk=BYTES -D rcpt=ADDR
--   -D qid=QUEUEID
-- Prints one line "eom=NAME" with the end-of-message reply. Any protocol error is fatal.
local function fail(text)
	print("miltertest: " .. text)
	error(text)
end

local function must(result, what)
	if result ~= nil then
		fail(what .. ": " .. tostring(result))
	end
end

local function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": reply " .. tostring(got) .. ", want " .. tostring(want))
	end
end

local names = {
	[SMFIR_CONTINUE] = "CONTINUE",
	[SMFIR_ACCEPT] = "ACCEPT",
	[SMFIR_DISCARD] = "DISCARD",
	[SMFIR_REJECT] = "REJECT",
	[SMFIR_TEMPFAIL] = "TEMPFAIL",
	[SMFIR_REPLYCODE] = "REPLYCODE",
}

mt.set_timeout(300)
local conn = mt.connect(socket, 40, 0.25)
if conn == nil then
	fail("cannot connect to " .. socket)
end
must(mt.conninfo(conn, "client.example", "127.0.0.1"), "conninfo")
expect(conn, SMFIR_CONTINUE, "connect")
must(mt.mailfrom(conn, "<alerts@example.com>"), "mailfrom")
must(mt.macro(conn, SMFIC_RCPT, "i", qid), "macro")
must(mt.rcptto(conn, rcpt), "rcptto")
expect(conn, SMFIR_CONTINUE, "RCPT " .. rcpt)

for line in io.lines(headers) do
	local name, value = line:match("^([^:]+):%s?(.*)$")
	if name == nil then
		fail("bad header line: " .. line)
	end
	must(mt.header(conn, name, value), "header " .. name)
end

local f = io.open(body, "rb")
if f == nil then
	fail("cannot open " .. body)
end
local size = tonumber(chunk)
local chunks = 0
while true do
	local data = f:read(size)
	if data == nil then
		break
	end
	must(mt.bodystring(conn, data), "body chunk " .. chunks)
	expect(conn, SMFIR_CONTINUE, "body chunk " .. chunks)
	chunks = chunks + 1
end
f:close()

must(mt.eom(conn), "eom")
local reply = mt.getreply(conn)
print("chunks=" .. chunks)
print("eom=" .. (names[reply] or tostring(reply)))
mt.disconnect(conn)
