"""A resolver for the Sendmail sandbox's network namespace that knows no names: it answers
every UDP query with NXDOMAIN, as a real resolver answers for `*.invalid` (RFC 6761).

Without it the namespace has no reachable resolver, and Sendmail would defer every address
whose domain it canonicalises (`dsn=4.4.3`). stop() makes the resolver unreachable again
(queries then fail at once), to show what a relay without working DNS does.
"""

import socket
import struct
import threading

NXDOMAIN = 3


class FakeDNS:
    def __init__(self, host="127.0.0.1", port=53):
        self.addr = (host, port)
        self.sock = None
        self.thread = None
        self.queries = []  # (qname, qtype) in order

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(self.addr)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        sock = self.sock
        while True:
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(data)
            if reply:
                try:
                    sock.sendto(reply, peer)
                except OSError:
                    return

    def answer(self, data):
        """NXDOMAIN for the query in data (header + question echoed), or None if malformed."""
        if len(data) < 12:
            return None
        qid, flags, qdcount = struct.unpack("!HHH", data[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        labels, i = [], 12
        while i < len(data) and data[i] != 0:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        if i + 5 > len(data):
            return None
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
        self.queries.append((".".join(labels), qtype))
        question = data[12:i + 5]
        rd = flags & 0x0100
        hdr = struct.pack("!HHHHHH", qid, 0x8000 | rd | 0x0080 | NXDOMAIN, 1, 0, 0, 0)
        return hdr + question

    def stop(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
