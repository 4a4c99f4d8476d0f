"""SPF (RFC 7208) evaluation for the deliverability check: does the domain's policy authorize each
sending host, within the limit of 10 DNS lookups, and what record would fix it."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from addons_mail.mail_server.dns_client import DnsClient
from addons_mail.mail_server.dns_findings import Finding, IPAddress, SendingHost

#: RFC 7208 §4.6.4: at most 10 mechanisms or modifiers that query DNS per SPF evaluation.
SPF_LOOKUP_LIMIT = 10


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


def _spf_records(dns_client: DnsClient, domain: str) -> list[str]:
    return [text for text in dns_client.txt(domain)
            if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")]


def _load_spf(dns_client: DnsClient, domain: str, text: str, lookups: list[int]) -> _SpfPolicy:
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


def _load_referenced_spf(dns_client: DnsClient, target: str, how: str, lookups: list[int]) -> _SpfPolicy:
    if "%" in target:
        raise _SpfPermError(f"{how}:{target} uses SPF macros, which this check cannot evaluate")
    target = target.rstrip(".").lower()
    records = _spf_records(dns_client, target)
    if len(records) != 1:
        found = "no SPF record" if not records else "several SPF records"
        raise _SpfPermError(f"permerror: {how}:{target} points to a domain with {found}")
    return _load_spf(dns_client, target, records[0], lookups)


def _spf_result(dns_client: DnsClient, policy: _SpfPolicy, address: IPAddress) -> str | None:
    """The qualifier of the first matching term ('+', '-', '~', '?'), or None (neutral)."""
    for term in policy.terms:
        if _term_matches(dns_client, policy, term, address):
            return term.qualifier
    if policy.redirect is not None:
        return _spf_result(dns_client, policy.redirect, address)
    return None


def _term_matches(dns_client: DnsClient, policy: _SpfPolicy, term: _SpfTerm, address: IPAddress) -> bool:
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


def _check_spf(dns_client: DnsClient, domain: str, hosts: list[SendingHost]) -> list[Finding]:
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


def _judge_sending_host(dns_client: DnsClient, policy: _SpfPolicy, host: SendingHost) -> tuple[Finding, bool]:
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
