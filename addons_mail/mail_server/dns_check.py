"""DNS deliverability check of a sending domain: SPF, DKIM, DMARC and MX (SPEC §2.5).

``check_domain`` asks DNS through the given resolver and returns a ``DnsReport``: one or more
findings per check, each ``ok`` / ``warning`` / ``error`` with a sentence and, when something is
missing or wrong, the record to add or fix. DNS failures (unknown domain, no answer) become
findings too, never exceptions. Nothing here touches the database.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import socket
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import dns.exception
import dns.name
import dns.resolver
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

CheckName = Literal["spf", "dkim", "dmarc", "mx"]
Level = Literal["ok", "warning", "error"]
Role = Literal["transactional", "mass_mailing"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Environment variable naming the DNS server ("HOST:PORT") when none is passed explicitly.
NAMESERVER_ENV = "JUNIPER_DNS_NAMESERVER"
#: RFC 7208 §4.6.4: at most 10 mechanisms or modifiers that query DNS per SPF evaluation.
SPF_LOOKUP_LIMIT = 10
_QUERY_TIMEOUT = 2.0
_QUERY_LIFETIME = 5.0


@dataclass(frozen=True)
class SendingHost:
    """An outgoing SMTP server whose mail must pass SPF: ``host`` is a hostname or an IP literal."""

    name: str
    host: str
    role: Role = "transactional"


@dataclass(frozen=True)
class Finding:
    """One verdict of one check; ``record`` is the DNS record to add or fix, when there is one."""

    check: CheckName
    level: Level
    message: str
    record: str | None = None


@dataclass
class DnsReport:
    """All findings for one domain, in check order (SPF, DKIM, DMARC, MX)."""

    domain: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(finding.level == "error" for finding in self.findings)

    def to_dict(self) -> dict:
        return {
            "domain": self.domain,
            "has_errors": self.has_errors,
            "findings": [asdict(finding) for finding in self.findings],
        }


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


def check_domain(
    domain: str,
    *,
    sending_hosts: list[SendingHost],
    dkim_selector: str | None,
    resolver: dns.resolver.Resolver,
) -> DnsReport:
    """Check SPF (for every sending host), DKIM (for ``dkim_selector``), DMARC and MX of ``domain``.

    Raises ``ValueError`` only for a syntactically invalid domain; every DNS outcome is a finding.
    """
    domain = normalize_domain(domain)
    report = DnsReport(domain=domain)
    dns_client = _DnsClient(resolver)
    try:
        if dns_client.domain_is_missing(domain):
            sentence = (f"The domain {domain} does not exist in DNS (NXDOMAIN): check its spelling, "
                        f"or publish its zone at your DNS provider first.")
            report.findings.extend(Finding(check, "error", sentence) for check in _CHECKS)
            return report
    except _DnsUnavailable as exc:
        report.findings.extend(Finding(check, "error", str(exc)) for check in _CHECKS)
        return report
    checks = [
        ("spf", lambda: _check_spf(dns_client, domain, sending_hosts)),
        ("dkim", lambda: _check_dkim(dns_client, domain, dkim_selector)),
        ("dmarc", lambda: _check_dmarc(dns_client, domain)),
        ("mx", lambda: _check_mx(dns_client, domain)),
    ]
    for check, run in checks:
        try:
            report.findings.extend(run())
        except _DnsUnavailable as exc:
            report.findings.append(Finding(check, "error", str(exc)))
    return report


def format_report(report: DnsReport) -> str:
    """Human-readable report: one line per finding, then an indented ``add:`` line for its record."""
    lines = [f"DNS check of {report.domain}"]
    for finding in report.findings:
        lines.append(f"{finding.level:<8}{finding.check:<6}{finding.message}")
        if finding.record:
            lines.append(f"{'':14}add: {finding.record}")
    verdict = "errors found" if report.has_errors else "no errors"
    lines.append(f"Result: {verdict}.")
    return "\n".join(lines)


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


_CHECKS: tuple[CheckName, ...] = ("spf", "dkim", "dmarc", "mx")


# --- DNS access -------------------------------------------------------------------------------

class _DnsUnavailable(Exception):
    """The DNS server did not give a usable answer; the message is the sentence for the user."""


class _DnsClient:
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
            raise _DnsUnavailable(
                f"No answer from the DNS server ({servers}) for {name} {rtype} within "
                f"{self.resolver.lifetime:g} s; check --nameserver or {NAMESERVER_ENV}."
            ) from None
        except dns.resolver.NoNameservers:
            raise _DnsUnavailable(
                f"The DNS server ({servers}) failed to answer for {name} {rtype} (SERVFAIL or "
                f"refused); check the zone at your DNS provider, or --nameserver."
            ) from None
        except dns.exception.DNSException as exc:
            raise _DnsUnavailable(f"DNS lookup of {name} {rtype} failed: {exc}") from None
        if answer.rrset is None:
            return True, []
        return True, list(answer.rrset)


# --- SPF --------------------------------------------------------------------------------------

class _SpfPermError(Exception):
    """The SPF policy cannot be evaluated (RFC 7208 permerror); the message says why."""


@dataclass
class _SpfTerm:
    qualifier: str
    mechanism: str
    domain: str | None
    cidr4: int
    cidr6: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    included: _SpfPolicy | None = None


@dataclass
class _SpfPolicy:
    domain: str
    text: str
    terms: list[_SpfTerm]
    redirect: _SpfPolicy | None = None


_DNS_MECHANISMS = {"a", "mx", "include", "ptr", "exists"}


def _spf_records(dns_client: _DnsClient, domain: str) -> list[str]:
    return [text for text in dns_client.txt(domain)
            if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")]


def _load_spf(dns_client: _DnsClient, domain: str, text: str, lookups: list[int]) -> _SpfPolicy:
    """Parse ``text`` and, recursively, the policies it includes or redirects to."""
    policy = _SpfPolicy(domain=domain, text=text, terms=[])
    redirect_target = None
    for token in text.split()[1:]:
        modifier = _SPF_MODIFIER.match(token)
        if modifier:
            if modifier.group(1).lower() == "redirect":
                redirect_target = token[modifier.end():]
            continue
        term = _parse_spf_term(domain, token)
        if term.mechanism in _DNS_MECHANISMS:
            _count_lookup(lookups)
            if term.mechanism == "include":
                term.included = _load_referenced_spf(dns_client, term.domain, "include", lookups)
        policy.terms.append(term)
    if redirect_target and not any(term.mechanism == "all" for term in policy.terms):
        _count_lookup(lookups)
        policy.redirect = _load_referenced_spf(dns_client, redirect_target, "redirect", lookups)
    return policy


_SPF_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=")
_SPF_MECHANISM = re.compile(r"([A-Za-z0-9]+)(.*)")
_SPF_DOMAIN_AND_CIDR = re.compile(r"(?::([^/]+))?(?:/(\d+))?(?://(\d+))?")


def _parse_spf_term(domain: str, token: str) -> _SpfTerm:
    qualifier, body = (token[0], token[1:]) if token[0] in "+-~?" else ("+", token)
    mechanism, rest = _SPF_MECHANISM.fullmatch(body).groups() if _SPF_MECHANISM.fullmatch(body) else ("", "")
    mechanism = mechanism.lower()
    invalid = _SpfPermError(f"the SPF record of {domain} has an invalid term {token!r}")
    if mechanism in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(rest[1:], strict=False)
        except ValueError:
            raise invalid from None
        if not rest.startswith(":") or network.version != int(mechanism[2]):
            raise invalid
        return _SpfTerm(qualifier, mechanism, None, 32, 128, network=network)
    if mechanism in ("a", "mx"):
        parts = _SPF_DOMAIN_AND_CIDR.fullmatch(rest)
        if parts is None:
            raise invalid
        target, cidr4, cidr6 = parts.groups()
        return _SpfTerm(qualifier, mechanism, target, int(cidr4 or 32), int(cidr6 or 128))
    if mechanism in ("include", "exists", "ptr"):
        if (mechanism != "ptr" and not rest.startswith(":")) or (rest and not rest.startswith(":")):
            raise invalid
        return _SpfTerm(qualifier, mechanism, rest[1:] or None, 32, 128)
    if mechanism == "all" and not rest:
        return _SpfTerm(qualifier, "all", None, 32, 128)
    raise _SpfPermError(f"the SPF record of {domain} has an unknown mechanism {token!r}")


def _count_lookup(lookups: list[int]) -> None:
    lookups[0] += 1
    if lookups[0] > SPF_LOOKUP_LIMIT:
        raise _SpfPermError(
            f"permerror: more than {SPF_LOOKUP_LIMIT} DNS lookups (include, a, mx, ptr, exists, "
            f"redirect), so receivers reject the whole SPF policy"
        )


def _load_referenced_spf(dns_client: _DnsClient, target: str, how: str, lookups: list[int]) -> _SpfPolicy:
    if "%" in target:
        raise _SpfPermError(f"{how}:{target} uses SPF macros, which this check cannot evaluate")
    target = target.rstrip(".").lower()
    records = _spf_records(dns_client, target)
    if len(records) != 1:
        found = "no SPF record" if not records else "several SPF records"
        raise _SpfPermError(f"permerror: {how}:{target} points to a domain with {found}")
    return _load_spf(dns_client, target, records[0], lookups)


def _spf_result(dns_client: _DnsClient, policy: _SpfPolicy, address: IPAddress) -> str | None:
    """The qualifier of the first matching term ('+', '-', '~', '?'), or None (neutral)."""
    for term in policy.terms:
        if _term_matches(dns_client, policy, term, address):
            return term.qualifier
    if policy.redirect is not None:
        return _spf_result(dns_client, policy.redirect, address)
    return None


def _term_matches(dns_client: _DnsClient, policy: _SpfPolicy, term: _SpfTerm, address: IPAddress) -> bool:
    target = (term.domain or policy.domain).rstrip(".")
    if term.mechanism == "all":
        return True
    if term.mechanism in ("ip4", "ip6"):
        return term.network.version == address.version and address in term.network
    if term.mechanism == "include":
        return _spf_result(dns_client, term.included, address) == "+"
    if "%" in target or term.mechanism == "ptr":
        return False
    if term.mechanism == "exists":
        return bool(dns_client.records(target, "A"))
    if term.mechanism == "a":
        hosts = [target]
    else:
        hosts = [str(rdata.exchange).rstrip(".") for rdata in dns_client.records(target, "MX")]
    for host in hosts:
        for candidate in dns_client.addresses(host):
            prefix = term.cidr4 if candidate.version == 4 else term.cidr6
            if candidate.version == address.version and address in ipaddress.ip_network(
                f"{candidate}/{prefix}", strict=False
            ):
                return True
    return False


def _spf_term_for(host: SendingHost) -> str:
    try:
        address = ipaddress.ip_address(host.host)
    except ValueError:
        return f"a:{host.host.rstrip('.')}"
    return f"ip{address.version}:{address}"


def _suggest_spf(domain: str, existing: str | None, hosts: list[SendingHost]) -> str:
    if existing is None:
        terms = list(dict.fromkeys(_spf_term_for(host) for host in hosts)) or ["mx"]
        return f'{domain}. TXT "v=spf1 {" ".join(terms)} ~all"'
    tokens = existing.split()
    new_terms = [term for term in dict.fromkeys(_spf_term_for(host) for host in hosts) if term not in tokens]
    position = next((i for i, token in enumerate(tokens)
                     if token.lower().lstrip("+-~?") == "all" or token.lower().startswith("redirect=")),
                    len(tokens))
    return f'{domain}. TXT "{" ".join(tokens[:position] + new_terms + tokens[position:])}"'


def _check_spf(dns_client: _DnsClient, domain: str, hosts: list[SendingHost]) -> list[Finding]:
    records = _spf_records(dns_client, domain)
    if not records:
        return [Finding("spf", "error",
                        f"No SPF record (TXT v=spf1) on {domain}: receivers cannot tell which servers "
                        f"may send its mail.", _suggest_spf(domain, None, hosts))]
    if len(records) > 1:
        listed = "; ".join(f'"{record}"' for record in records)
        return [Finding("spf", "error",
                        f"multiple SPF records on {domain} ({listed}): receivers treat this as a "
                        f"permerror; merge them into one.")]
    text = records[0]
    lookups = [0]
    try:
        policy = _load_spf(dns_client, domain, text, lookups)
    except _SpfPermError as exc:
        return [Finding("spf", "error", f"SPF record of {domain} is unusable: {exc}.")]
    findings = [_judge_all(domain, policy)]
    verdicts = [_judge_sending_host(dns_client, policy, host) for host in hosts]
    unauthorized = [host for host, (_finding, authorized) in zip(hosts, verdicts) if not authorized]
    suggestion = _suggest_spf(domain, text, unauthorized) if unauthorized else None
    for finding, authorized in verdicts:
        findings.append(finding if authorized else replace(finding, record=suggestion))
    if not hosts:
        findings.append(Finding("spf", "warning",
                                "No outgoing server is configured, so SPF coverage was not checked."))
    findings.append(Finding("spf", "ok", f"SPF record uses {lookups[0]} of {SPF_LOOKUP_LIMIT} DNS lookups."))
    return findings


def _effective_all(policy: _SpfPolicy) -> str | None:
    for term in policy.terms:
        if term.mechanism == "all":
            return term.qualifier
    return _effective_all(policy.redirect) if policy.redirect else None


def _judge_all(domain: str, policy: _SpfPolicy) -> Finding:
    qualifier = _effective_all(policy)
    if qualifier == "+":
        fixed = " ".join("~all" if token.lower() in ("all", "+all") else token for token in policy.text.split())
        return Finding("spf", "error",
                       f"SPF of {domain} ends with +all: anyone may send mail as {domain}; use ~all or -all.",
                       f'{domain}. TXT "{fixed}"' if fixed != policy.text else None)
    if qualifier in ("?", None):
        what = "?all (neutral)" if qualifier else "no 'all' term"
        return Finding("spf", "warning",
                       f"SPF of {domain} has {what}: mail from other servers is not marked as failing; "
                       f"end the record with ~all or -all.")
    return Finding("spf", "ok", f'SPF record found: "{policy.text}".')


def _judge_sending_host(dns_client: _DnsClient, policy: _SpfPolicy, host: SendingHost) -> tuple[Finding, bool]:
    role = host.role.replace("_", "-")
    label = f"{role} server {host.name!r} ({host.host})"
    try:
        addresses = [ipaddress.ip_address(host.host)]
    except ValueError:
        addresses = dns_client.addresses(host.host.rstrip("."))
    if not addresses:
        return Finding("spf", "error",
                       f"The {label} has no A/AAAA record, so SPF cannot authorize it; "
                       f"fix the server's host name or publish its address."), False
    refused = [address for address in addresses if _spf_result(dns_client, policy, address) != "+"]
    if refused:
        listed = ", ".join(str(address) for address in refused)
        return Finding("spf", "error",
                       f"SPF of {policy.domain} does not authorize the {label} at {listed}: its mail "
                       f"will fail SPF."), False
    return Finding("spf", "ok", f"SPF authorizes the {label}."), True


# --- DKIM -------------------------------------------------------------------------------------

def _check_dkim(dns_client: _DnsClient, domain: str, selector: str | None) -> list[Finding]:
    if not selector:
        return [Finding("dkim", "warning",
                        f"DKIM not configured for {domain}: no selector given, so outgoing mail is not "
                        f"signed; run `juniper mail dkim setup {domain} --selector NAME`.")]
    name = f"{selector}._domainkey.{domain}"
    records, canonical = _txt_following_cname(dns_client, name)
    via = f" (via CNAME to {canonical})" if canonical != name else ""
    setup_hint = f"run `juniper mail dkim setup {domain} --selector {selector}` and publish the record it prints"
    if not records:
        return [Finding("dkim", "error", f"No DKIM key at {name}{via}: {setup_hint}.")]
    if len(records) > 1:
        return [Finding("dkim", "error", f"{name}{via} has {len(records)} TXT records; keep exactly one DKIM key.")]
    tags = _parse_tags(records[0])
    if tags.get("v", "DKIM1") != "DKIM1":
        return [Finding("dkim", "error", f"The TXT record at {name}{via} is not a DKIM key (v={tags['v']}).")]
    public_key = tags.get("p")
    if public_key is None:
        return [Finding("dkim", "error", f"The DKIM record at {name}{via} has no p= public key; {setup_hint}.")]
    if public_key == "":
        return [Finding("dkim", "error",
                        f"The DKIM key at {name}{via} is revoked (empty p=): signatures with selector "
                        f"{selector} fail; {setup_hint}.")]
    problem, size = _decode_dkim_key(public_key, tags.get("k", "rsa").lower())
    if problem:
        return [Finding("dkim", "error", f"The DKIM key at {name}{via} is unusable: {problem}; {setup_hint}.")]
    if size is not None and size < 2048:
        return [Finding("dkim", "warning",
                        f"The DKIM key at {name}{via} is RSA {size} bits; 2048 bits is recommended.")]
    kind = f"RSA {size} bits" if size else tags.get("k", "rsa")
    return [Finding("dkim", "ok", f"DKIM key for selector {selector} found at {name}{via} ({kind}).")]


def _txt_following_cname(dns_client: _DnsClient, name: str) -> tuple[list[str], str]:
    """TXT records at ``name`` and the name that holds them, after following up to 8 CNAMEs."""
    for _hop in range(8):
        aliases = dns_client.records(name, "CNAME")
        if not aliases:
            break
        name = str(aliases[0].target).rstrip(".")
    return dns_client.txt(name), name


def _parse_tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip()] = "".join(value.split())
    return tags


def _decode_dkim_key(public_key: str, key_type: str) -> tuple[str | None, int | None]:
    """(problem sentence or None, RSA key size or None)."""
    try:
        der = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        return "p= is not valid base64", None
    if key_type == "ed25519":
        return (None, None) if len(der) == 32 else ("p= is not a 32-byte Ed25519 key", None)
    if key_type != "rsa":
        return f"unknown key type k={key_type}", None
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        return "p= is not a DER-encoded public key", None
    if not isinstance(key, rsa.RSAPublicKey):
        return "p= is not an RSA public key although k=rsa", None
    if key.key_size < 1024:
        return f"the RSA key has only {key.key_size} bits (receivers require at least 1024)", None
    return None, key.key_size


# --- DMARC ------------------------------------------------------------------------------------

_ALIGNMENT = {"r": "relaxed", "s": "strict"}


def _check_dmarc(dns_client: _DnsClient, domain: str) -> list[Finding]:
    name = f"_dmarc.{domain}"
    suggestion = f'{name}. TXT "v=DMARC1; p=none; rua=mailto:postmaster@{domain}"'
    texts = dns_client.txt(name)
    records = [text for text in texts if text.replace(" ", "").lower().startswith("v=dmarc1")]
    if not texts:
        return [Finding("dmarc", "warning",
                        f"No DMARC record at {name}: receivers apply their own policy to mail that fails "
                        f"SPF and DKIM; start with p=none and tighten once reports look right.", suggestion)]
    if not records:
        return [Finding("dmarc", "error",
                        f"The TXT record at {name} is not a DMARC record (it must start with v=DMARC1).",
                        suggestion)]
    if len(records) > 1:
        return [Finding("dmarc", "error",
                        f"{name} has {len(records)} DMARC records, so receivers ignore them all; keep one.")]
    tags = _parse_tags(records[0])
    problems = []
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        problems.append("p= must be none, quarantine or reject" if policy else "the p= policy is missing")
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r").lower() not in _ALIGNMENT:
            problems.append(f"{tag}= must be r or s")
    if "sp" in tags and tags["sp"].lower() not in ("none", "quarantine", "reject"):
        problems.append("sp= must be none, quarantine or reject")
    if problems:
        return [Finding("dmarc", "error",
                        f"The DMARC record at {name} is invalid: {'; '.join(problems)}.", suggestion)]
    alignment = (f"DKIM alignment {_ALIGNMENT[tags.get('adkim', 'r').lower()]}, "
                 f"SPF alignment {_ALIGNMENT[tags.get('aspf', 'r').lower()]}")
    percent = f", applied to {tags['pct']}% of mail" if tags.get("pct", "100") != "100" else ""
    if policy == "none":
        return [Finding("dmarc", "warning",
                        f"DMARC policy p=none at {name} is monitoring only: failing mail is still "
                        f"delivered ({alignment}); move to quarantine or reject once reports look right.")]
    return [Finding("dmarc", "ok", f"DMARC policy p={policy}{percent} ({alignment}).")]


# --- MX ---------------------------------------------------------------------------------------

def _check_mx(dns_client: _DnsClient, domain: str) -> list[Finding]:
    records = dns_client.records(domain, "MX")
    suggestion = f"{domain}. MX 10 mail.{domain}."
    if not records:
        return [Finding("mx", "error",
                        f"No MX record for {domain}: replies to its addresses cannot be received; point "
                        f"an MX record at the server that receives its mail.", suggestion)]
    exchanges = sorted((rdata.preference, str(rdata.exchange).rstrip(".")) for rdata in records)
    if any(host == "" for _preference, host in exchanges):
        return [Finding("mx", "error",
                        f"{domain} has a null MX (0 .): it declares that it receives no mail, so replies "
                        f"bounce; replace it with the MX of your mail server.", suggestion)]
    findings = []
    for _preference, host in exchanges:
        if not dns_client.addresses(host):
            findings.append(Finding("mx", "warning",
                                    f"The MX host {host} of {domain} has no A/AAAA record, so it cannot "
                                    f"receive mail."))
    listed = ", ".join(f"{host} ({preference})" for preference, host in exchanges)
    findings.append(Finding("mx", "ok", f"MX for {domain}: {listed}."))
    return findings
