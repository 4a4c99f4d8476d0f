"""Fixtures of the mail_server tests: an environment with the addon installed and an alias domain."""
import pytest

from addons_mail.mail_server.servers import create_server


@pytest.fixture
def mail_env(env, install):
    install(env, "mail_server")
    env.params.set("mail.catchall.domain", "mycompany.com")
    return env


@pytest.fixture
def add_server(mail_env):
    """``add_server(name, peer, **fields)``: an outgoing server record pointing at a test peer."""

    def add(name, peer=None, **fields):
        if peer is not None:
            fields.setdefault("host", peer.host)
            fields.setdefault("port", peer.port)
            fields.setdefault("encryption", {"plain": "none"}.get(peer.mode, peer.mode))
            if peer.ca_pem:
                fields.setdefault("ca_file", peer.ca_pem)
            if peer.user:
                fields.setdefault("user", peer.user)
                fields.setdefault("password", peer.password)
        fields.setdefault("host", "127.0.0.1")
        fields.setdefault("port", 2525)
        fields.setdefault("encryption", "none")
        return create_server(mail_env, name, **fields)

    return add
