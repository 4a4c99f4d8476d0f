"""An in-process authoritative DNS server on dnslib (UDP and TCP, 127.0.0.1) with per-test records."""

import threading

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from tests.peers.ports import free_udp_and_tcp_port

SUPPORTED_TYPES = ("TXT", "MX", "A", "AAAA", "CNAME")
TXT_STRING_LIMIT = 255
TTL = 60


def _normalise(name: str) -> str:
    return name.rstrip(".").lower() + "."


def split_txt(value: str | bytes) -> list[bytes]:
    """Split a TXT value into the <=255-byte character-strings one TXT record is made of."""
    data = value.encode() if isinstance(value, str) else value
    return [data[start:start + TXT_STRING_LIMIT] for start in range(0, len(data), TXT_STRING_LIMIT)] or [b""]


def _build_rdata(rtype: str, value):
    if rtype == "TXT":
        return TXT(split_txt(value))
    if rtype == "MX":
        if isinstance(value, str):
            priority, host = value.split()
        else:
            priority, host = value
        return MX(_normalise(host), int(priority))
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    return CNAME(_normalise(value))


class ZoneResolver(BaseResolver):
    """Answers from an in-memory record table; unknown names get NXDOMAIN, CNAMEs are followed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._records: dict[str, list[tuple[str, object]]] = {}

    def add(self, name: str, rtype: str, value) -> None:
        rtype = rtype.upper()
        if rtype not in SUPPORTED_TYPES:
            raise ValueError(f"record type {rtype} is not supported; use one of {', '.join(SUPPORTED_TYPES)}")
        with self._lock:
            self._records.setdefault(_normalise(name), []).append((rtype, _build_rdata(rtype, value)))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        name = _normalise(str(request.q.qname))
        wanted = QTYPE[request.q.qtype]
        with self._lock:
            if name not in self._records:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            for _ in range(8):
                records = self._records.get(name, [])
                for rtype, rdata in records:
                    if rtype == wanted or wanted == "ANY":
                        reply.add_answer(RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=TTL))
                aliases = [rdata for rtype, rdata in records if rtype == "CNAME"]
                if wanted == "CNAME" or not aliases:
                    break
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=aliases[0], ttl=TTL))
                name = _normalise(str(aliases[0].label))
        return reply


class DnsServer:
    """The zone server: ``add(name, rtype, value)`` for TXT, MX ((priority, host)), A, AAAA, CNAME;
    ``clear()`` forgets every record; clients use 127.0.0.1 and ``port`` over UDP or TCP."""

    def __init__(self, port: int | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_udp_and_tcp_port()
        self.resolver = ZoneResolver()
        quiet = DNSLogger(logf=lambda message: None)
        self._servers = [
            DNSServer(self.resolver, port=self.port, address=self.host, logger=quiet),
            DNSServer(self.resolver, port=self.port, address=self.host, logger=quiet, tcp=True),
        ]
        self._threads: list[threading.Thread] = []

    def add(self, name: str, rtype: str, value) -> None:
        self.resolver.add(name, rtype, value)

    def clear(self) -> None:
        self.resolver.clear()

    def start(self) -> "DnsServer":
        for server in self._servers:
            # The stock start_thread() polls for shutdown every 0.5 s; stop() would wait that long.
            thread = threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
