"""DNS deliverability check of a sending domain: SPF, DKIM, DMARC and MX (SPEC §2.5).

``check_domain`` asks DNS through the given resolver and returns a ``DnsReport``: one or more
findings per check, each ``ok`` / ``warning`` / ``error`` with a sentence and, when something is
missing or wrong, the record to add or fix. DNS failures (unknown domain, no answer) become
findings too, never exceptions. Nothing here touches the database.
"""
from __future__ import annotations

import base64
import binascii

import dns.exception
import dns.name
import dns.resolver
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from addons_mail.mail_server.dns_client import (
    NAMESERVER_ENV,
    DnsClient,
    DnsUnavailable,
    make_resolver,
    normalize_domain,
)
from addons_mail.mail_server.dns_findings import (
    CheckName,
    DnsReport,
    Finding,
    Level,
    Role,
    SendingHost,
)
from addons_mail.mail_server.spf_check import SPF_LOOKUP_LIMIT, _check_spf

__all__ = ["check_domain", "format_report", "make_resolver", "normalize_domain", "DnsReport", "Finding",
           "SendingHost", "NAMESERVER_ENV", "SPF_LOOKUP_LIMIT", "CheckName", "Level", "Role"]


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
    dns_client = DnsClient(resolver)
    try:
        if dns_client.domain_is_missing(domain):
            sentence = (f"The domain {domain} does not exist in DNS (NXDOMAIN): check its spelling, "
                        f"or publish its zone at your DNS provider first.")
            report.findings.extend(Finding(check, "error", sentence) for check in _CHECKS)
            return report
    except DnsUnavailable as exc:
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
        except DnsUnavailable as exc:
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


_CHECKS: tuple[CheckName, ...] = ("spf", "dkim", "dmarc", "mx")




# --- DKIM -------------------------------------------------------------------------------------

def _check_dkim(dns_client: DnsClient, domain: str, selector: str | None) -> list[Finding]:
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


def _txt_following_cname(dns_client: DnsClient, name: str) -> tuple[list[str], str]:
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


def _check_dmarc(dns_client: DnsClient, domain: str) -> list[Finding]:
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

def _check_mx(dns_client: DnsClient, domain: str) -> list[Finding]:
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
