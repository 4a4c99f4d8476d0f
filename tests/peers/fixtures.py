"""pytest fixtures for the real-protocol peers; load with ``pytest_plugins = ["tests.peers.fixtures"]``."""

import itertools

import pytest

from tests.peers.dns import DnsServer
from tests.peers.dovecot import INSTALL_HINT as DOVECOT_INSTALL_HINT
from tests.peers.dovecot import Dovecot, dovecot_available
from tests.peers.require import require_peer
from tests.peers.sink import INSTALL_HINT as SMTP_SINK_INSTALL_HINT
from tests.peers.sink import SmtpSink, smtp_sink_available
from tests.peers.smtp import SmtpPeer
from tests.peers.tls import LoopbackCA

SMTP_USER = "juniper"
SMTP_PASSWORD = "s3cret"
_user_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def tls_ca():
    """The CA that signs every TLS peer's certificate (trustme, SAN localhost/127.0.0.1/127.0.0.2)."""
    authority = LoopbackCA()
    yield authority
    authority.cleanup()


@pytest.fixture(scope="session")
def tls_ca_pem(tls_ca):
    """Path of the PEM file of ``tls_ca``: give it to client code as its ``ca_file``."""
    return tls_ca.ca_pem


@pytest.fixture(scope="session")
def untrusted_ca():
    """A second CA that clients are never told about."""
    authority = LoopbackCA()
    yield authority
    authority.cleanup()


@pytest.fixture
def make_smtp_peer(tls_ca):
    """Factory: ``make_smtp_peer(mode="plain", user=None, password=None, ca=None)`` starts another
    SmtpPeer (TLS modes default to ``tls_ca``); all are stopped after the test."""
    peers = []

    def make(mode="plain", **options):
        if mode != "plain":
            options.setdefault("ca", tls_ca)
        peer = SmtpPeer(mode, **options).start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()


@pytest.fixture
def smtp_peer(make_smtp_peer):
    """Plain SMTP, no AUTH."""
    return make_smtp_peer()


@pytest.fixture
def smtp_auth_peer(make_smtp_peer):
    """Plain SMTP requiring AUTH as juniper / s3cret before MAIL FROM."""
    return make_smtp_peer(user=SMTP_USER, password=SMTP_PASSWORD)


@pytest.fixture
def smtp_starttls_peer(make_smtp_peer):
    """SMTP requiring STARTTLS (certificate from ``tls_ca``), then AUTH as juniper / s3cret."""
    return make_smtp_peer("starttls", user=SMTP_USER, password=SMTP_PASSWORD)


@pytest.fixture
def smtp_ssl_peer(make_smtp_peer):
    """Implicit TLS (SMTPS, certificate from ``tls_ca``) requiring AUTH as juniper / s3cret."""
    return make_smtp_peer("ssl", user=SMTP_USER, password=SMTP_PASSWORD)


@pytest.fixture
def untrusted_ca_ssl_peer(make_smtp_peer, untrusted_ca):
    """Implicit TLS whose certificate comes from ``untrusted_ca``: verification must fail."""
    return make_smtp_peer("ssl", user=SMTP_USER, password=SMTP_PASSWORD, ca=untrusted_ca)


@pytest.fixture
def smtp_sink():
    """Postfix smtp-sink on a free loopback port (accepts and discards everything)."""
    require_peer("smtp-sink", smtp_sink_available(), SMTP_SINK_INSTALL_HINT)
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def dovecot(tls_ca):
    """A fresh, started Dovecot (IMAP, IMAPS, POP3, POP3S) without users; TLS verifies with ``tls_ca``."""
    require_peer("Dovecot", dovecot_available(), DOVECOT_INSTALL_HINT)
    server = Dovecot(ca=tls_ca).start()
    yield server
    server.cleanup()


@pytest.fixture
def dovecot_user(dovecot):
    """A new mail user on ``dovecot``: returns (user, password)."""
    number = next(_user_numbers)
    user, password = f"user{number}", f"pw-{number}-secret"
    dovecot.add_user(user, password)
    return user, password


@pytest.fixture
def dns_server():
    """An authoritative DNS server on 127.0.0.1:``port`` (UDP and TCP) with no records yet."""
    with DnsServer() as server:
        yield server
