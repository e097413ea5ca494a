"""A fake Twilio Messaging API over HTTPS for the end-to-end tests (standard library only).

Twilio-like: POST/GET /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth
(account SID + auth token, or API key SID + secret), Twilio's JSON error shape and the magic
test numbers (+15005550001 -> 21211, ...04 -> 21610, ...09 -> 21614). HTTP/1.1 keep-alive.

Control API on the same port, no auth, JSON:
  GET  /_fake/messages   every created message, in order
  GET  /_fake/stats      {"requests", "connections", "creates", "handshake_failures"}
  POST /_fake/reset      forget messages, script, latency and counters
  POST /_fake/script     list of responses consumed one per create request, e.g.
                         [{"status":429,"code":20429}, {"status":500,"create":true},
                          {"delay_ms":2000}, {"drop":true}]   (drop: close without answering;
                          with "create":true the message is recorded first)
  POST /_fake/latency    {"ms":100}: delay every create
  POST /_fake/status_rules  delivery status transitions (issue 12), first match wins, e.g.
                         [{"to":"+14155550199","status":"undelivered","error_code":30007,
                           "after_s":1}, {"to":"*","status":"delivered","after_s":1}]:
                         a message created that long ago shows that status when fetched
                         (GET Messages/SM....json or the list); before, and with no rule, "sent"
  POST /_fake/inbound    {"from":"+14155550123","to":"+15005550006","body":"ACK"}: a reply
                         (direction inbound, status received); answers {"sid": ...}
  POST /_fake/realism    switches of the "as awkward as the real service" block below, e.g.
                         {"queued_s": 30, "list_lag_s": 5, "nulls": "last", "max_page_size": 20,
                          "trial": true, "queue_full": 2}; reset() turns them all off
The message list is paged like Twilio's (PageSize, Page and PageToken; next_page_uri while
more remain; a later page without its PageToken is refused, as Twilio does).

Realism (issue 11), each off by default and switched per test (set_realism / _fake/realism):
  queued_s       a message stays "queued" with date_sent null this long after its creation
  list_lag_s     a new message shows in the list only this long after its creation
  nulls          "first" or "last": where the list (date_sent, newest first) puts null dates
  max_page_size  the largest PageSize honoured (Twilio: 1000), to make a test page through
  trial          bodies are stored with "Sent from your Twilio trial account - " in front
  queue_full     the next N creates get 400 / 21611 (the sender's queue is full)
  list_throttle  the next N requests for the message list get 429 / 20429
add_history(to, from, body, count, age_s) puts older messages to a number in the list.
Always on: an API key (add_api_key) gets 401 / 20003 on the Accounts resource, as Twilio
documents; one added with list_permission=False gets 403 / 70051 on the message list.

Use FakeTwilio(...).start()/.stop() in-process (stop closes every open connection; start
again binds the same port), or run it as a script.  Secrets are never logged: the log has one
line per request with method, path and status only.
"""

import argparse
import base64
import email.utils
import hmac
import json
import math
import re
import secrets
import signal
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2010-04-01/Accounts/"
ACCOUNT_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)\.json$")
MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages(?:/(SM[0-9a-f]{32}))?\.json$")
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAGIC_TO = {"+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
            "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
            "+15005550009": (21614, "'To' number is not a valid mobile number")}
STATUS_TEXT = {400: "Bad Request", 401: "Authenticate", 404: "Not Found", 429: "Too Many Requests",
               500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("^{}\\[~]|€\f")


def num_segments(body):
    """Segments the way carriers count: GSM-7 160/153, otherwise UCS-2 70/67 (UTF-16 units)."""
    if all(c in GSM7 or c in GSM7_EXT for c in body):
        units, single, multi = sum(2 if c in GSM7_EXT else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def twilio_error(status, code, message):
    return status, {"code": code, "message": message, "status": status,
                    "more_info": "https://www.twilio.com/docs/errors/%d" % code}


class FakeTwilio:
    """State plus a restartable TLS server; thread-safe."""

    def __init__(self, cert, key, account_sid, auth_token, api_key_sid=None,
                 api_key_secret=None, host="127.0.0.1", port=0, log_path=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.account_sid, self.host, self.port = account_sid, host, port
        self.creds = {account_sid: auth_token}
        self.no_list = set()  # API keys without the permission to list messages
        if api_key_sid:
            self.creds[api_key_sid] = api_key_secret
        self.log_path = log_path
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.conns = set()
        self.reset()

    # ---- control -------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self._messages, self._script, self.latency_ms = [], [], 0
            self._realism = dict(REALISM_OFF)
            self._stats = {"requests": 0, "connections": 0, "creates": 0,
                           "handshake_failures": 0}
        self._reset_delivery()

    def set_script(self, items):
        with self.lock:
            self._script = list(items)

    def set_latency(self, ms):
        with self.lock:
            self.latency_ms = int(ms)

    # ---- realism (issue 11): switches, API keys, the list as Twilio shows it ----------------
    def set_realism(self, **switches):
        """Switch realism on (see the module doc); unknown names are an error."""
        unknown = set(switches) - set(REALISM_OFF)
        if unknown:
            raise ValueError("unknown realism switches: %s" % sorted(unknown))
        with self.lock:
            self._realism.update(switches)

    def add_api_key(self, sid, secret, list_permission=True):
        """An API key (SK...) of the account; without list_permission: a restricted key
        that may create messages but not list them (403 / 70051 there)."""
        with self.lock:
            self.creds[sid] = secret
            if not list_permission:
                self.no_list.add(sid)

    def add_history(self, to, from_, body, count, age_s):
        """`count` sent messages to `to` created `age_s` seconds ago (and 1 s apart before
        that): the number's history, older than any job of the test."""
        now = time.time()
        with self.lock:
            for i in range(count):
                t = now - age_s - i
                sid = "SM" + secrets.token_hex(16)
                date = email.utils.formatdate(t, usegmt=True)
                self._messages.insert(0, {
                    "sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
                    "to": to, "from": from_, "messaging_service_sid": None, "body": body,
                    "status": "sent", "num_segments": "1", "num_media": "0",
                    "direction": "outbound-api", "date_created": date, "date_updated": date,
                    "date_sent": None, "error_code": None, "error_message": None,
                    "price": None, "price_unit": "USD",
                    "uri": "%s%s/Messages/%s.json" % (API, self.account_sid, sid),
                    "_created": t, "_auth": "history", "_smart_encoded": None})

    def _list_throttled(self):
        """True for the next `list_throttle` list requests: 429 / 20429."""
        with self.lock:
            if self._realism["list_throttle"] > 0:
                self._realism["list_throttle"] -= 1
                return True
        return False

    def _stored_body(self, body):
        return TRIAL_PREFIX + body if self._realism["trial"] else body

    def _queue_full(self):
        """True for the next `queue_full` creates: 400 / 21611."""
        with self.lock:
            if self._realism["queue_full"] > 0:
                self._realism["queue_full"] -= 1
                return True
        return False

    def _listed(self, m, now):
        """A message as the list shows it at `now`: queued with date_sent null for
        `queued_s` after its creation, sent afterwards; None while `list_lag_s` hides it."""
        r, created = self._realism, m["_created"]
        if now - created < r["list_lag_s"]:
            return None
        if now - created < r["queued_s"]:
            v = public(m)
            v.update(date_sent=None)
            return v
        v = self.delivery_view(m)  # sent, or what a status rule says by now (issue 12)
        if v.get("direction") != "inbound":
            v.update(date_sent=email.utils.formatdate(created + r["queued_s"], usegmt=True))
        return v

    def _list_order(self, listed):
        """Newest date_sent first; null dates first or last as `nulls` says."""
        nulls = [m for m in listed if m["date_sent"] is None]
        dated = [m for m in listed if m["date_sent"] is not None]
        dated.sort(key=lambda m: email.utils.parsedate_to_datetime(m["date_sent"]), reverse=True)
        return nulls + dated if self._realism["nulls"] == "first" else dated + nulls

    def messages(self):
        with self.lock:
            return [dict(m) for m in self._messages]

    def stats(self):
        with self.lock:
            return dict(self._stats)

    def wait_for(self, predicate, count=1, timeout=20.0):
        """Poll until at least `count` messages satisfy predicate; return them (maybe fewer)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages() if predicate(m)]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    @property
    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "https://%s:%d" % (host, self.port)

    # ---- server lifetime -----------------------------------------------------------------
    def start(self):
        """Bind (the same port again after stop()) and serve in a daemon thread."""
        server = _Server((self.host, self.port), _Handler, self)
        self.port = server.server_address[1]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="fake-twilio", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stop listening and cut every open connection (models an outage)."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        self.server = None

    def log(self, method, path, status):
        if not self.log_path:
            return
        line = "%s %s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), method, path, status)
        with self.lock, open(self.log_path, "a") as f:
            f.write(line)

    # ---- API logic (called from handler threads) -----------------------------------------
    def authenticate(self, header, path_sid):
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        good = self.creds.get(user)
        if good is None or not hmac.compare_digest(pw.encode(), good.encode()):
            return None
        if path_sid != self.account_sid:
            return None
        return "account" if user == self.account_sid else user  # an API key: its SID

    def create(self, form, auth_kind):
        """Return (status, json) for a create request; may sleep (latency/script)."""
        with self.lock:
            self._stats["creates"] += 1
            step = self._script.pop(0) if self._script else {}
            delay = self.latency_ms + int(step.get("delay_ms", 0))
        if delay:
            time.sleep(delay / 1000.0)
        if step.get("drop") and not step.get("create"):
            return None, None
        get = lambda k: form.get(k, [None])[0]  # noqa: E731
        to, from_, mg, body = get("To"), get("From"), get("MessagingServiceSid"), get("Body")
        status = int(step.get("status", 201))
        if status >= 300 and not step.get("create"):
            code = int(step.get("code", {429: 20429}.get(status, 20500)))
            return twilio_error(status, code, step.get("message", STATUS_TEXT.get(status, "Error")))
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not mg:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if from_ and not E164_RE.match(from_):
            return twilio_error(400, 21212, "The 'From' number %s is not a valid phone number."
                                % from_)
        if mg and not re.match(r"^MG[0-9a-f]{32}$", mg):
            return twilio_error(400, 21705, "The Messaging Service Sid %s is invalid." % mg)
        if body is None or body == "":
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 "
                                            "character limit.")
        if not E164_RE.match(to):
            return twilio_error(400, 21211, "The 'To' number %s is not a valid phone number." % to)
        if to in MAGIC_TO:
            return twilio_error(400, *MAGIC_TO[to])
        if self._queue_full():  # realism: the sender's queue at Twilio is full
            return twilio_error(400, 21611, "This 'From' number has exceeded the maximum number "
                                            "of queued messages")
        now = email.utils.formatdate(usegmt=True)
        sid = "SM" + secrets.token_hex(16)
        msg = {"sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
               "to": to, "from": from_, "messaging_service_sid": mg,
               "body": self._stored_body(body),
               "status": "queued" if from_ else "accepted", "num_segments": str(num_segments(body)),
               "num_media": "0", "direction": "outbound-api", "date_created": now,
               "date_updated": now, "date_sent": None, "error_code": None,
               "error_message": None, "price": None, "price_unit": "USD",
               "uri": "%s%s/Messages/%s.json" % (API, self.account_sid, sid),
               "subresource_uris": {"media": "%s%s/Messages/%s/Media.json"
                                    % (API, self.account_sid, sid)},
               "_created": time.time(), "_auth": auth_kind,
               "_smart_encoded": get("SmartEncoded")}
        with self.lock:
            self._messages.append(msg)
        if step.get("drop"):  # created, then the connection dies: an ambiguous timeout
            return None, None
        if status >= 300:  # scripted "error after the message was created"
            code = int(step.get("code", 20500))
            return twilio_error(status, code, step.get("message", STATUS_TEXT.get(status, "Error")))
        return 201, public(msg)

    def list(self, query):
        """Messages filtered like Twilio's list resource (To, From, DateSent, DateSent>=, <=),
        newest date_sent first (realism: null dates, lag), paged by PageSize (default 50, at
        most max_page_size) and Page with its PageToken, with next_page_uri. None for a later
        page asked without its PageToken."""
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        now = time.time()
        listed = []
        for m in self.messages():
            day = time.strftime("%Y-%m-%d", time.gmtime(m["_created"]))
            if ("To" in q and m["to"] != q["To"]) or ("From" in q and m["from"] != q["From"]):
                continue
            if ("DateSent" in q and day != q["DateSent"]) or \
                    ("DateSent>" in q and day < q["DateSent>"]) or \
                    ("DateSent<" in q and day > q["DateSent<"]):
                continue
            m = self._listed(m, now)
            if m is not None:
                listed.append(m)
        out = self._list_order(listed[::-1])  # newest created first among equal dates
        size = max(1, min(self._realism["max_page_size"], int(q.get("PageSize", 50))))
        page = max(0, int(q.get("Page", 0)))
        if page > 0 and q.get("PageToken") != page_token(page):
            return None
        uri = "%s%s/Messages.json" % (API, self.account_sid)

        def page_uri(n):  # Twilio-style: same filters, PageSize, Page and a PageToken
            args = [(k, v) for k, v in q.items() if k not in ("Page", "PageToken", "PageSize")]
            args += [("PageSize", str(size)), ("Page", str(n))]
            if n > 0:
                args.append(("PageToken", page_token(n)))
            return uri + "?" + urllib.parse.urlencode(args)

        start = page * size
        chunk = out[start:start + size]
        more = start + size < len(out)
        return {"messages": chunk, "page": page, "page_size": size, "start": start,
                "end": start + max(0, len(chunk) - 1), "uri": page_uri(page),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if more else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None}


    # ---- delivery status and replies (issue 12) -------------------------------------------
    def _reset_delivery(self):
        """Called by reset() under the lock."""
        self._status_rules = []

    def set_status_rules(self, rules):
        """[{"to": "+1..." or "*", "status": ..., "error_code": N, "after_s": S}], first match
        wins: a message created S seconds ago or more shows that status when fetched."""
        with self.lock:
            self._status_rules = [dict(r) for r in rules]

    def add_inbound(self, from_, to, body):
        """A reply from a phone to one of our numbers, as Twilio lists it; returns its SID."""
        now = email.utils.formatdate(usegmt=True)
        sid = "SM" + secrets.token_hex(16)
        msg = {"sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
               "to": to, "from": from_, "messaging_service_sid": None, "body": body,
               "status": "received", "num_segments": "1", "num_media": "0",
               "direction": "inbound", "date_created": now, "date_updated": now,
               "date_sent": now, "error_code": None, "error_message": None, "price": None,
               "price_unit": "USD", "uri": "%s%s/Messages/%s.json" % (API, self.account_sid, sid),
               "_created": time.time(), "_auth": None}
        with self.lock:
            self._messages.append(msg)
        return sid

    def delivery_view(self, msg):
        """The message as a fetch shows it now: an outbound one "sent" (its date_sent its
        creation), or what the first matching status rule says once its time has come."""
        m = public(msg)
        if m.get("direction") == "inbound":
            return m
        m.update(status="sent", date_sent=m["date_created"])
        with self.lock:
            rules = list(self._status_rules)
        for r in rules:
            if r.get("to", "*") not in ("*", m["to"]):
                continue
            if time.time() - msg["_created"] >= float(r.get("after_s", 0)):
                m["status"] = r["status"]
                code = r.get("error_code")
                m["error_code"] = code
                m["error_message"] = r.get("error_message") if code else None
            break
        return m


def public(msg):
    return {k: v for k, v in msg.items() if not k.startswith("_")}


# ---- realism (issue 11) -------------------------------------------------------------------
TRIAL_PREFIX = "Sent from your Twilio trial account - "
REALISM_OFF = {"queued_s": 0, "list_lag_s": 0, "nulls": "first", "max_page_size": 1000,
               "trial": False, "queue_full": 0, "list_throttle": 0}


def page_token(n):
    return "PASM%032x" % n


class _Server(ThreadingHTTPServer):
    """Plain accept in the serving thread; the TLS handshake runs in the connection's thread."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, fake):
        self.fake = fake
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        """A client that went away mid-answer (a killed milter) is no error; log the rest."""
        import sys
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    def finish_request(self, request, client_address):
        fake = self.fake
        # The handler writes the headers and then the body: without TCP_NODELAY, Nagle holds
        # the body until the client's delayed ACK (about 40 ms per answer on Linux), and the
        # fake, not the milter, sets the pace of a burst.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(10)
        try:
            tls = fake.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with fake.lock:
                fake._stats["handshake_failures"] += 1
            return
        with fake.lock:
            fake._stats["connections"] += 1
            fake.conns.add(tls)
        try:
            tls.settimeout(60)  # idle keep-alive connections are closed after a minute
            super().finish_request(tls, client_address)
        finally:
            with fake.lock:
                fake.conns.discard(tls)
            try:
                tls.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-twilio/1"

    def log_message(self, *args):  # the default would go to stderr; we log ourselves
        pass

    def _reply(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.server.fake.log(self.command, self.path, status)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        fake = self.server.fake
        with fake.lock:
            fake._stats["requests"] += 1
        raw = self._body() if self.command == "POST" else b""
        path, _, query = self.path.partition("?")
        if path.startswith("/_fake/"):
            return self._control(path, raw)
        a = ACCOUNT_RE.match(path)
        if a and self.command == "GET":  # fetch the account: what `check --online` does
            kind = fake.authenticate(self.headers.get("Authorization"), a.group(1))
            if kind is None:
                return self._reply(*twilio_error(401, 20003, "Authenticate"))
            if kind != "account":  # Twilio: API keys may not read the Accounts resource
                return self._reply(*twilio_error(401, 20003, "Authenticate"))
            return self._reply(200, {"sid": a.group(1), "status": "active", "type": "Full"})
        m = MESSAGES_RE.match(path)
        if not m:
            return self._reply(*twilio_error(404, 20404, "The requested resource %s was not found"
                                             % path))
        kind = fake.authenticate(self.headers.get("Authorization"), m.group(1))
        if kind is None:
            return self._reply(*twilio_error(401, 20003, "Authenticate"),
                               extra_headers=[("WWW-Authenticate", 'Basic realm="Twilio API"')])
        if self.command == "GET" and m.group(2):
            found = [fake.delivery_view(x) for x in fake.messages() if x["sid"] == m.group(2)]
            if not found:
                return self._reply(*twilio_error(404, 20404, "The requested resource %s was not "
                                                 "found" % path))
            return self._reply(200, found[0])
        if self.command == "GET":
            if kind in fake.no_list:  # a restricted key without the Messages list permission
                return self._reply(*twilio_error(403, 70051, "Authorization Failed"))
            if fake._list_throttled():
                return self._reply(*twilio_error(429, 20429, "Too Many Requests"))
            listed = fake.list(query)
            if listed is None:
                return self._reply(*twilio_error(400, 20001, "Invalid PageToken"))
            return self._reply(200, listed)
        if m.group(2):
            return self._reply(*twilio_error(405, 20004, "Method not allowed"))
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        status, obj = fake.create(form, kind)
        if status is None:  # scripted drop: no answer at all
            fake.log(self.command, self.path, "dropped")
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(status, obj)

    def _control(self, path, raw):
        fake = self.server.fake
        try:
            arg = json.loads(raw) if raw else None
        except ValueError:
            return self._reply(400, {"error": "bad JSON"})
        if self.command == "GET" and path == "/_fake/messages":
            return self._reply(200, [dict(public(m), To=m["to"], From=m["from"], Body=m["body"],
                                          MessagingServiceSid=m["messaging_service_sid"])
                                     for m in fake.messages()])
        if self.command == "GET" and path == "/_fake/stats":
            return self._reply(200, fake.stats())
        if self.command == "POST" and path == "/_fake/reset":
            fake.reset()
            return self._reply(200, {"ok": True})
        if self.command == "POST" and path == "/_fake/script" and isinstance(arg, list):
            fake.set_script(arg)
            return self._reply(200, {"ok": True, "steps": len(arg)})
        if self.command == "POST" and path == "/_fake/realism" and isinstance(arg, dict):
            try:
                fake.set_realism(**arg)
            except ValueError as e:
                return self._reply(400, {"error": str(e)})
            return self._reply(200, {"ok": True})
        if self.command == "POST" and path == "/_fake/latency" and isinstance(arg, dict):
            fake.set_latency(arg.get("ms", 0))
            return self._reply(200, {"ok": True})
        if self._control_delivery(path, arg):
            return None
        return self._reply(404, {"error": "unknown control request"})

    def _control_delivery(self, path, arg):
        """Delivery status and replies (issue 12): True when it answered the request."""
        fake = self.server.fake
        if self.command == "POST" and path == "/_fake/status_rules" and isinstance(arg, list):
            fake.set_status_rules(arg)
            self._reply(200, {"ok": True, "rules": len(arg)})
            return True
        if self.command == "POST" and path == "/_fake/inbound" and isinstance(arg, dict):
            self._reply(200, {"sid": fake.add_inbound(arg["from"], arg["to"], arg["body"])})
            return True
        return False


def _read_secret(path):
    with open(path) as f:
        return f.read().strip()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--account-sid", required=True)
    p.add_argument("--auth-token-file", required=True)
    p.add_argument("--api-key-sid")
    p.add_argument("--api-key-secret-file")
    p.add_argument("--log")
    a = p.parse_args()
    fake = FakeTwilio(a.cert, a.key, a.account_sid, _read_secret(a.auth_token_file),
                      a.api_key_sid, a.api_key_secret_file and _read_secret(a.api_key_secret_file),
                      host=a.host, port=a.port, log_path=a.log).start()
    print("fake twilio listening on %s" % fake.url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fake.stop()


if __name__ == "__main__":
    main()
