"""``LoopbackDns``: an authoritative nameserver on 127.0.0.1, UDP and TCP on one free port.

It answers for every name (authoritative, AA set) from the records the test added: the records
of the name and type asked for; NOERROR with no answer when the name holds records of other
types only or has names below it (an empty non-terminal, RFC 8020); NXDOMAIN otherwise. Records
can be added and removed at any time; each answer reads the current set.

Point the directory at it with ``DNS_NAMESERVERS=<server.nameserver>``.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from types import TracebackType
from typing import Any, Final

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

HOST: Final = "127.0.0.1"
TTL: Final = 1
UDP_LIMIT: Final = 512


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def _txt(value: str) -> TXT:
    """``value`` as a TXT rdata, in strings of at most 255 octets (RFC 1035 §3.3.14)."""
    data = value.encode()
    return TXT([data[i : i + 255] for i in range(0, len(data), 255)] or [b""])


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        self.queries: list[tuple[str, str, str]] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()  # aa=1, the question echoed
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        key = _key(qname)
        with self.lock:
            self.queries.append((key, qtype, handler.protocol))
            held = list(self.records.get(key, ()))
            below = any(name.endswith("." + key) for name, rows in self.records.items() if rows)
        if not held and not below:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, rdata in held:
            if rtype == qtype:
                reply.add_answer(RR(qname, getattr(QTYPE, rtype), rdata=rdata, ttl=TTL))
        return reply


class _Handler(DNSHandler):  # type: ignore[misc]
    """RFC 1035 §4.2.1: a UDP answer over 512 octets is sent truncated (TC set, the question
    kept, no records); the resolver asks again over TCP, as it must of a real server."""

    def get_reply(self, data: bytes) -> bytes:
        packed: bytes = super().get_reply(data)
        if self.protocol != "udp" or len(packed) <= UDP_LIMIT:
            return packed
        reply = DNSRecord.parse(packed)
        truncated = DNSRecord(reply.header, q=reply.q)
        truncated.header.tc = 1
        result: bytes = truncated.pack()
        return result


class LoopbackDns:
    """Start with ``start()`` (or ``with``); ``nameserver`` is ``127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self._zone = _Zone()
        self._servers: list[DNSServer] = []
        self.port = 0

    @property
    def nameserver(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        # One port for both transports (resolvers retry over TCP on a truncated UDP answer):
        # take a free UDP port, then bind TCP to it; a port whose TCP side is taken is skipped.
        quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        for _ in range(20):
            udp = DNSServer(self._zone, address=HOST, port=0, logger=quiet, handler=_Handler)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self._zone, address=HOST, port=port, tcp=True, logger=quiet, handler=_Handler
                )
            except OSError:
                udp.server.server_close()
                continue
            self._servers = [udp, tcp]
            self.port = port
            for server in self._servers:
                server.start_thread()
            return
        raise RuntimeError("no port free for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> LoopbackDns:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- records ---------------------------------------------------------------------------

    def add_txt(self, name: str, value: str) -> None:
        """Publishes a TXT record (several may share a name)."""
        with self._zone.lock:
            self._zone.records[_key(name)].append(("TXT", _txt(value)))

    def add(self, name: str, rtype: str, rdata: Any) -> None:
        """Publishes a record of another type (a dnslib rdata, e.g. ``dnslib.A("10.0.0.1")``)."""
        with self._zone.lock:
            self._zone.records[_key(name)].append((rtype, rdata))

    def remove(self, name: str) -> None:
        """Removes every record of ``name``."""
        with self._zone.lock:
            self._zone.records.pop(_key(name), None)

    def queried(self, name: str, protocol: str | None = None) -> int:
        """How many queries for ``name`` reached the server (over ``"udp"`` or ``"tcp"`` only,
        when given)."""
        with self._zone.lock:
            return sum(
                1
                for asked, _, over in self._zone.queries
                if asked == _key(name) and protocol in (None, over)
            )


def silent_udp_port() -> tuple[socket.socket, int]:
    """A bound UDP socket that never answers (a nameserver that times out) and its port; the
    caller closes it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    return sock, sock.getsockname()[1]
