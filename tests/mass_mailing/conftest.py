"""Fixtures of the mass_mailing tests: an environment with the addon, contacts, and two SMTP servers."""
import pytest

from kernel.models import Contact

ALIAS_DOMAIN = "example.com"
BASE_URL = "https://news.example.com"
BODY = "<p>Hello {{ recipient.first_name }},</p><p>Our news for {{ recipient.company or 'you' }}.</p>"


@pytest.fixture
def mailing_env(env, install):
    install(env, "mass_mailing")
    env.params.set("mail.catchall.domain", ALIAS_DOMAIN)
    env.params.set("web.base.url", BASE_URL)
    return env


def add_contacts(specs) -> list[Contact]:
    """``specs``: (name, email) pairs; returns the contacts in order."""
    return [Contact.create(name=name, email=email) for name, email in specs]


def add_server(env, peer, name: str, priority: int = 10):
    server_model = env["ir.mail_server"]
    return server_model.create(name=name, host=peer.host, port=peer.port, encryption="none", authentication="login",
                               priority=priority, verify_tls=True, timeout=10)


@pytest.fixture
def servers(mailing_env, make_smtp_peer):
    """Two aiosmtpd peers: ``transactional`` and ``marketing``; the latter is the dedicated server (and
    has the better priority, so only the dedicated-server rule keeps transactional mail off it)."""
    transactional_peer, marketing_peer = make_smtp_peer(), make_smtp_peer()
    transactional = add_server(mailing_env, transactional_peer, "transactional", priority=10)
    marketing = add_server(mailing_env, marketing_peer, "marketing", priority=5)
    mailing_env.params.set("mass_mailing.outgoing_mail_server", True)
    mailing_env.params.set("mass_mailing.mail_server_id", marketing.id)
    return {"transactional": transactional_peer, "marketing": marketing_peer,
            "transactional_server": transactional, "marketing_server": marketing}
