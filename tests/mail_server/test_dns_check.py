"""DNS deliverability check against a real DNS server on 127.0.0.1 (tests/peers/dns.py)."""
import socket

import pytest

from addons_mail.mail_server.dns_check import (
    DnsReport, SendingHost, check_domain, format_report, make_resolver,
)
from addons_mail.mail_server.dkim_signing import generate_dkim_key

DOMAIN = "example.com"
SMTP_HOST = SendingHost("Transactional", "smtp.example.com", "transactional")
MASS_HOST = SendingHost("Newsletters", "mass.example.net", "mass_mailing")


@pytest.fixture(scope="module")
def dkim_key():
    return generate_dkim_key()


@pytest.fixture
def zone(dns_server, dkim_key):
    """A domain whose SPF, DKIM, DMARC and MX are all right for both sending hosts."""
    dns_server.add("smtp.example.com", "A", "192.0.2.10")
    dns_server.add("mass.example.net", "A", "198.51.100.20")
    dns_server.add("mx.example.com", "A", "192.0.2.25")
    dns_server.add(DOMAIN, "MX", "10 mx.example.com.")
    dns_server.add("juniper1._domainkey.example.com", "TXT", dkim_key.public_txt)
    dns_server.add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; adkim=s; aspf=r")
    return dns_server


def run_check(dns_server, hosts=(SMTP_HOST, MASS_HOST), selector="juniper1", domain=DOMAIN) -> DnsReport:
    resolver = make_resolver(f"127.0.0.1:{dns_server.port}")
    return check_domain(domain, sending_hosts=list(hosts), dkim_selector=selector, resolver=resolver)


def findings(report, check, level=None):
    return [f for f in report.findings if f.check == check and (level is None or f.level == level)]


def test_a_well_configured_domain_has_no_errors_or_warnings(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 a:smtp.example.com ip4:198.51.100.0/24 -all")
    report = run_check(zone)
    assert not report.has_errors
    assert [f for f in report.findings if f.level != "ok"] == []
    assert {f.check for f in report.findings} == {"spf", "dkim", "dmarc", "mx"}
    assert report.to_dict()["has_errors"] is False
    text = format_report(report)
    assert "\nerror" not in text and "RSA 2048 bits" in text and text.endswith("no errors.")


def test_missing_spf_is_an_error_with_a_record_covering_both_hosts(zone):
    report = run_check(zone)
    [error] = findings(report, "spf", "error")
    assert "No SPF record" in error.message
    assert error.record == 'example.com. TXT "v=spf1 a:smtp.example.com a:mass.example.net ~all"'
    assert "add: example.com. TXT" in format_report(report)


def test_two_spf_records_are_an_error(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 a:smtp.example.com ~all")
    zone.add(DOMAIN, "TXT", "v=spf1 ip4:198.51.100.20 ~all")
    [error] = findings(run_check(zone), "spf", "error")
    assert "multiple SPF records" in error.message


def test_spf_not_covering_the_mass_mailing_host_names_it(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 a:smtp.example.com ~all")
    report = run_check(zone)
    [error] = findings(report, "spf", "error")
    assert "mass-mailing server 'Newsletters' (mass.example.net)" in error.message
    assert error.record == 'example.com. TXT "v=spf1 a:smtp.example.com a:mass.example.net ~all"'
    assert any("transactional" in f.message for f in findings(report, "spf", "ok"))


def test_an_include_chain_authorizes_the_hosts(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 include:_spf.example.com ~all")
    zone.add("_spf.example.com", "TXT", "v=spf1 include:_spf.provider.net a:smtp.example.com -all")
    zone.add("_spf.provider.net", "TXT", "v=spf1 mx:provider.net -all")
    zone.add("provider.net", "MX", (10, "out.provider.net"))
    zone.add("out.provider.net", "A", "198.51.100.20")
    report = run_check(zone)
    assert findings(report, "spf", "error") == []
    assert any("uses 4 of 10 DNS lookups" in f.message for f in report.findings)


def test_more_than_ten_lookups_is_a_permerror(zone):
    includes = " ".join(f"include:s{i}.example.com" for i in range(11))
    zone.add(DOMAIN, "TXT", f"v=spf1 {includes} a:smtp.example.com ~all")
    for i in range(11):
        zone.add(f"s{i}.example.com", "TXT", "v=spf1 ip4:198.51.100.20 -all")
    [error] = findings(run_check(zone), "spf", "error")
    assert "permerror: more than 10 DNS lookups" in error.message


def test_plus_all_lets_anyone_send(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 +all")
    [error] = findings(run_check(zone), "spf", "error")
    assert "anyone may send" in error.message
    assert error.record == 'example.com. TXT "v=spf1 ~all"'


def test_neutral_all_is_a_warning(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 a:smtp.example.com ip4:198.51.100.20 ?all")
    report = run_check(zone)
    assert not report.has_errors
    assert "?all" in findings(report, "spf", "warning")[0].message


def test_an_ip_literal_host_and_ipv6_cidr(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 ip6:2001:db8::/32 -all")
    report = run_check(zone, hosts=[SendingHost("v6", "2001:db8::25", "transactional")])
    assert findings(report, "spf", "error") == []


def test_missing_dkim_key(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 a:smtp.example.com ip4:198.51.100.20 -all")
    [error] = findings(run_check(zone, selector="other"), "dkim")
    assert error.level == "error"
    assert "No DKIM key at other._domainkey.example.com" in error.message


def test_revoked_dkim_key_with_empty_p(zone):
    zone.add("empty._domainkey.example.com", "TXT", "v=DKIM1; k=rsa; p=")
    [error] = findings(run_check(zone, selector="empty"), "dkim")
    assert error.level == "error" and "empty p=" in error.message


def test_garbage_dkim_key(zone):
    zone.add("junk._domainkey.example.com", "TXT", "v=DKIM1; k=rsa; p=bm90IGEga2V5IGF0IGFsbA==")
    [error] = findings(run_check(zone, selector="junk"), "dkim")
    assert error.level == "error" and "not a DER-encoded public key" in error.message


def test_dkim_key_through_a_cname(zone, dkim_key):
    zone.add("esp._domainkey.example.com", "CNAME", "esp.dkim.provider.net")
    zone.add("esp.dkim.provider.net", "TXT", dkim_key.public_txt)
    [finding] = findings(run_check(zone, selector="esp"), "dkim")
    assert finding.level == "ok" and "via CNAME to esp.dkim.provider.net" in finding.message


def test_no_selector_means_dkim_not_configured(zone):
    [warning] = findings(run_check(zone, selector=None), "dkim")
    assert warning.level == "warning" and "DKIM not configured" in warning.message


def test_missing_dmarc_suggests_a_record(dns_server):
    dns_server.add(DOMAIN, "MX", "10 mx.example.com.")
    [warning] = findings(run_check(dns_server), "dmarc")
    assert warning.level == "warning"
    assert warning.record == '_dmarc.example.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.com"'


def test_dmarc_p_none_is_monitoring_only(dns_server):
    dns_server.add(DOMAIN, "MX", "10 mx.example.com.")
    dns_server.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    [warning] = findings(run_check(dns_server), "dmarc")
    assert warning.level == "warning" and "monitoring only" in warning.message


def test_dmarc_p_reject_reports_alignment(zone):
    [finding] = findings(run_check(zone), "dmarc")
    assert finding.level == "ok"
    assert "p=reject" in finding.message and "DKIM alignment strict, SPF alignment relaxed" in finding.message


def test_invalid_dmarc_is_an_error(dns_server):
    dns_server.add(DOMAIN, "MX", "10 mx.example.com.")
    dns_server.add("_dmarc.example.com", "TXT", "v=DMARC1; p=block")
    [error] = findings(run_check(dns_server), "dmarc")
    assert error.level == "error" and "p= must be none, quarantine or reject" in error.message


def test_missing_mx_is_an_error(dns_server):
    dns_server.add(DOMAIN, "TXT", "v=spf1 -all")
    [error] = findings(run_check(dns_server, hosts=[]), "mx")
    assert error.level == "error" and "replies" in error.message
    assert error.record == "example.com. MX 10 mail.example.com."


def test_null_mx_is_an_error(dns_server):
    dns_server.add(DOMAIN, "MX", "0 .")
    [error] = findings(run_check(dns_server, hosts=[]), "mx")
    assert error.level == "error" and "null MX" in error.message


def test_unknown_domain_is_one_sentence_per_check(dns_server):
    report = run_check(dns_server, domain="nowhere.example")
    assert [f.check for f in report.findings] == ["spf", "dkim", "dmarc", "mx"]
    assert all(f.level == "error" and "does not exist in DNS (NXDOMAIN)" in f.message for f in report.findings)


def test_a_silent_dns_server_is_reported_not_raised():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        resolver = make_resolver(f"127.0.0.1:{silent.getsockname()[1]}")
        resolver.lifetime = 0.5
        report = check_domain(DOMAIN, sending_hosts=[SMTP_HOST], dkim_selector=None, resolver=resolver)
    finally:
        silent.close()
    assert report.has_errors
    assert "No answer from the DNS server (127.0.0.1:" in report.findings[0].message
    assert "check --nameserver" in report.findings[0].message


def test_nameserver_from_environment(monkeypatch):
    monkeypatch.setenv("JUNIPER_DNS_NAMESERVER", "127.0.0.1:5399")
    resolver = make_resolver(None)
    assert resolver.nameservers == ["127.0.0.1"] and resolver.port == 5399


def test_bad_nameserver_and_domain_are_one_sentence():
    with pytest.raises(ValueError, match="invalid port"):
        make_resolver("127.0.0.1:notaport")
    with pytest.raises(ValueError, match="not a valid domain name"):
        check_domain("exa mple..com", sending_hosts=[], dkim_selector=None, resolver=make_resolver("127.0.0.1"))


def test_redirect_and_a_with_prefix_length_authorize(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 redirect=_spf.example.com")
    zone.add("_spf.example.com", "TXT", "v=spf1 a:smtp.example.com a:relay.example.net/24 -all")
    zone.add("relay.example.net", "A", "198.51.100.1")
    report = run_check(zone)
    assert findings(report, "spf", "error") == [] and findings(report, "spf", "warning") == []


def test_an_unparsable_spf_term_is_reported(zone):
    zone.add(DOMAIN, "TXT", "v=spf1 ip4:300.1.1.1 -all")
    [error] = findings(run_check(zone), "spf", "error")
    assert "invalid term 'ip4:300.1.1.1'" in error.message
