"""DNS access for the deliverability check: the resolver (a local server in tests), domain names, and
a client that caches answers per run and turns DNS failures into one sentence."""
from __future__ import annotations

import ipaddress
import os
import socket

import dns.exception
import dns.name
import dns.resolver

from addons_mail.mail_server.dns_findings import IPAddress

#: Environment variable naming the DNS server ("HOST:PORT") when none is passed explicitly.
NAMESERVER_ENV = "JUNIPER_DNS_NAMESERVER"
_QUERY_TIMEOUT = 2.0
_QUERY_LIFETIME = 5.0


def make_resolver(nameserver: str | None = None) -> dns.resolver.Resolver:
    """A resolver with short timeouts (2 s per try, 5 s per query).

    ``nameserver`` is ``"HOST"`` or ``"HOST:PORT"`` (``"[::1]:53"`` for IPv6); when it is None the
    environment variable ``JUNIPER_DNS_NAMESERVER`` is used, and without it the system resolver.
    Raises ``ValueError`` with one sentence when the nameserver cannot be used.
    """
    nameserver = nameserver or os.environ.get(NAMESERVER_ENV) or None
    if nameserver is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        address, port = _parse_nameserver(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.timeout = _QUERY_TIMEOUT
    resolver.lifetime = _QUERY_LIFETIME
    return resolver


def _parse_nameserver(nameserver: str) -> tuple[str, int]:
    text = nameserver.strip()
    host, port_text = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"Nameserver {nameserver!r} has an invalid port: use HOST or HOST:PORT.")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            address = socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)[0][4][0]
        except (socket.gaierror, IndexError):
            raise ValueError(
                f"Nameserver {nameserver!r} is neither an IP address nor a resolvable host name."
            ) from None
    return address, int(port_text)


def normalize_domain(domain: str) -> str:
    """Lower-case ASCII (IDNA) form of ``domain`` without the trailing dot; ValueError if invalid."""
    text = domain.strip().rstrip(".")
    try:
        name = dns.name.from_text(text)
        ascii_name = name.to_text(omit_final_dot=True).lower()
    except (dns.exception.DNSException, UnicodeError):
        raise ValueError(f"{domain!r} is not a valid domain name.") from None
    if not text or "." not in ascii_name:
        raise ValueError(f"{domain!r} is not a valid domain name: expected something like example.com.")
    return ascii_name


# --- DNS access -------------------------------------------------------------------------------

class DnsUnavailable(Exception):
    """The DNS server did not give a usable answer; the message is the sentence for the user."""


class DnsClient:
    """Queries with answers cached per check run; empty list for NXDOMAIN or no data."""

    def __init__(self, resolver: dns.resolver.Resolver):
        self.resolver = resolver
        self._cache: dict[tuple[str, str], tuple[bool, list]] = {}

    def domain_is_missing(self, domain: str) -> bool:
        exists, _records = self._query(domain, "TXT")
        return not exists

    def records(self, name: str, rtype: str) -> list:
        return self._query(name, rtype)[1]

    def txt(self, name: str) -> list[str]:
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in self.records(name, "TXT")]

    def addresses(self, name: str) -> list[IPAddress]:
        return [ipaddress.ip_address(rdata.address)
                for rtype in ("A", "AAAA") for rdata in self.records(name, rtype)]

    def _query(self, name: str, rtype: str) -> tuple[bool, list]:
        key = (name.lower().rstrip("."), rtype)
        if key not in self._cache:
            self._cache[key] = self._ask(key[0], rtype)
        return self._cache[key]

    def _ask(self, name: str, rtype: str) -> tuple[bool, list]:
        servers = ", ".join(f"{server}:{self.resolver.port}" for server in self.resolver.nameservers)
        try:
            answer = self.resolver.resolve(name + ".", rtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return False, []
        except dns.resolver.LifetimeTimeout:
            raise DnsUnavailable(
                f"No answer from the DNS server ({servers}) for {name} {rtype} within "
                f"{self.resolver.lifetime:g} s; check --nameserver or {NAMESERVER_ENV}."
            ) from None
        except dns.resolver.NoNameservers:
            raise DnsUnavailable(
                f"The DNS server ({servers}) failed to answer for {name} {rtype} (SERVFAIL or "
                f"refused); check the zone at your DNS provider, or --nameserver."
            ) from None
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"DNS lookup of {name} {rtype} failed: {exc}") from None
        if answer.rrset is None:
            return True, []
        return True, list(answer.rrset)
