"""Fixtures of the fetchmail tests: an environment with fetchmail and a throwaway gateway addon
(``addons/fetchmail_test_gateway``, found through $JUNIPER_ADDONS_PATH), and Dovecot mailboxes."""
import os
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from kernel.addons import discover_addons

TEST_ADDONS = os.path.join(os.path.dirname(__file__), "addons")
PROTOCOL_SETTINGS = {
    "imap": dict(server_type="imap", ssl=False),
    "imaps": dict(server_type="imap", ssl=True),
    "pop3": dict(server_type="pop", ssl=False),
    "pop3s": dict(server_type="pop", ssl=True),
}


@pytest.fixture
def addons_path(monkeypatch):
    monkeypatch.setenv("JUNIPER_ADDONS_PATH", TEST_ADDONS)
    return TEST_ADDONS


@pytest.fixture
def fetch_env(env, install, addons_path):
    """``env`` with fetchmail installed and no gateway."""
    env.available_addons = discover_addons()
    install(env, "fetchmail")
    return env


@pytest.fixture
def gateway_env(fetch_env, install):
    """``env`` with fetchmail and the throwaway gateway that stores messages by Message-Id."""
    install(fetch_env, "fetchmail_test_gateway")
    return fetch_env


def make_message(number: int, subject: str | None = None, body: str = "Hello") -> bytes:
    message = EmailMessage()
    message["From"] = f"Sender {number} <sender{number}@example.com>"
    message["To"] = "inbox@example.com"
    message["Subject"] = subject or f"Message {number}"
    message["Message-Id"] = make_msgid(f"m{number}", domain="example.com")
    message.set_content(f"{body} {number}\n")
    return message.as_bytes()


@pytest.fixture
def make_incoming_server(dovecot, dovecot_user, tls_ca_pem):
    """``make_incoming_server(env, protocol, **overrides)``: a confirmed server record on ``dovecot``
    for ``dovecot_user`` over imap, imaps, pop3 or pop3s."""
    from addons_mail.fetchmail.models import IncomingServer

    user, password = dovecot_user

    def make(environment, protocol="imap", **overrides):
        fields = dict(name=f"{protocol}-{IncomingServer.select().count() + 1}", host=dovecot.host,
                      port=dovecot.ports[protocol], user=user, password=password, ca_file=tls_ca_pem,
                      timeout=5, state="confirmed", **PROTOCOL_SETTINGS[protocol])
        fields.update(overrides)
        return IncomingServer.create(**fields)

    return make


def received_subjects():
    from fetchmail_test_gateway.hooks import ReceivedMessage

    return sorted(row.subject for row in ReceivedMessage.select())
