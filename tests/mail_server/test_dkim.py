"""DKIM keys and signing, verified by dkimpy against the key published on the local DNS peer."""
import dkim
import dns.exception
import pytest

from addons_mail.mail_server.dkim_signing import DkimSigner, dns_record, generate_dkim_key
from addons_mail.mail_server.dns_check import make_resolver

MESSAGE = (
    b"From: Sales <sales@example.com>\r\n"
    b"To: customer@example.org\r\n"
    b"Subject: Your quotation S00042\r\n"
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <42.sale.order@example.com>\r\n"
    b"List-Unsubscribe: <https://example.com/unsubscribe/42>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Dear customer,\r\n\r\nplease find your quotation attached.\r\n"
)


@pytest.fixture(scope="module")
def dkim_key():
    return generate_dkim_key()


@pytest.fixture
def published(dns_server, dkim_key):
    """The DNS peer serving the key for selector juniper1 of example.com; returns a dkimpy dnsfunc."""
    dns_server.add("juniper1._domainkey.example.com", "TXT", dkim_key.public_txt)
    resolver = make_resolver(f"127.0.0.1:{dns_server.port}")

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode(), "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(b"".join(rdata.strings) for rdata in answer)

    return dnsfunc


def test_signed_mail_verifies_against_the_published_key(published, dkim_key):
    signed = DkimSigner("example.com", "juniper1", dkim_key.private_pem).sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;")
    assert signed.endswith(MESSAGE)
    assert b"list-unsubscribe : list-unsubscribe-post" in signed
    assert dkim.verify(signed, dnsfunc=published)


def test_mail_altered_after_signing_fails(published, dkim_key):
    signed = DkimSigner("example.com", "juniper1", dkim_key.private_pem).sign(MESSAGE)
    altered = signed.replace(b"Subject: Your quotation S00042", b"Subject: Your invoice S00042")
    assert not dkim.verify(altered, dnsfunc=published)


def test_signature_survives_relaxed_changes_and_lf_line_endings(published, dkim_key):
    signer = DkimSigner("example.com", "juniper1", dkim_key.private_pem)
    signed = signer.sign(MESSAGE.replace(b"\r\n", b"\n"))
    assert b"\r" not in signed
    assert dkim.verify(signed, dnsfunc=published)
    refolded = signer.sign(MESSAGE).replace(b"Subject: Your quotation", b"Subject:   Your  quotation")
    assert dkim.verify(refolded, dnsfunc=published)


def test_plain_dkimpy_signature_verifies_too(published, dkim_key):
    signature = dkim.sign(MESSAGE, b"juniper1", b"example.com", dkim_key.private_pem,
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=[b"from", b"subject"])
    assert dkim.verify(signature + MESSAGE, dnsfunc=published)


def test_a_key_from_another_selector_does_not_verify(published):
    other = generate_dkim_key()
    signed = DkimSigner("example.com", "juniper1", other.private_pem).sign(MESSAGE)
    assert not dkim.verify(signed, dnsfunc=published)


def test_dns_record_splits_the_key_into_255_character_strings(dkim_key):
    record = dns_record("Example.COM.", "juniper1", dkim_key)
    assert record.startswith('juniper1._domainkey.example.com. TXT "v=DKIM1; k=rsa; p=MII')
    strings = record.split(" TXT ", 1)[1].split('" "')
    assert len(strings) == 2 and all(len(s.strip('"')) <= 255 for s in strings)
    assert "".join(s.strip('"') for s in strings) == dkim_key.public_txt


def test_bad_input_is_one_sentence(dkim_key):
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        DkimSigner("example.com", "juniper1", b"not a key")
    with pytest.raises(ValueError, match="not a valid DKIM selector"):
        DkimSigner("example.com", "bad selector", dkim_key.private_pem)
    with pytest.raises(ValueError, match="no From header field"):
        DkimSigner("example.com", "juniper1", dkim_key.private_pem).sign(b"Subject: hi\r\n\r\nbody\r\n")
