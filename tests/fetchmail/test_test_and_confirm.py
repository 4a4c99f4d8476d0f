"""TEST & CONFIRM against Dovecot: success confirms; each failure is one sentence recorded on the server."""
import pytest

from addons_mail.fetchmail.connection_errors import MailboxError
from addons_mail.fetchmail.models import IncomingServer
from addons_mail.fetchmail.servers import test_and_confirm as confirm_server

PROTOCOLS = ["imap", "imaps", "pop3", "pop3s"]
PLAIN_PORT_OF = {"imaps": "imap", "pop3s": "pop3"}
TLS_PORT_OF = {"imap": "imaps", "pop3": "pop3s"}


def failure_of(env, server) -> str:
    with pytest.raises(MailboxError) as raised:
        confirm_server(env, server)
    sentence = str(raised.value)
    assert "\n" not in sentence and "Traceback" not in sentence
    assert IncomingServer.get_by_id(server.id).last_error == sentence
    assert IncomingServer.get_by_id(server.id).state == "draft"
    return sentence


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_working_server_is_confirmed(fetch_env, make_incoming_server, protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft")
    confirm_server(fetch_env, server)
    assert IncomingServer.get_by_id(server.id).state == "confirmed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_password_says_authentication_failed_and_never_shows_the_password(
        fetch_env, make_incoming_server, dovecot_user, protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft", password="not-the-password")
    sentence = failure_of(fetch_env, server)
    assert sentence.startswith(f"Authentication failed for user {dovecot_user[0]} on 127.0.0.1")
    assert "not-the-password" not in sentence


@pytest.mark.parametrize("protocol", ["imaps", "pop3s"])
def test_ssl_on_the_plain_port_says_the_port_does_not_speak_tls(fetch_env, dovecot, make_incoming_server,
                                                                protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft",
                                  port=dovecot.ports[PLAIN_PORT_OF[protocol]])
    sentence = failure_of(fetch_env, server)
    assert sentence.startswith(f"TLS failed with 127.0.0.1:{server.port}: the port does not speak TLS")
    assert "check that SSL is right for this port" in sentence


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_plain_on_the_tls_port_suggests_turning_ssl_on(fetch_env, dovecot, make_incoming_server, protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft", timeout=1,
                                  port=dovecot.ports[TLS_PORT_OF[protocol]])
    sentence = failure_of(fetch_env, server)
    assert sentence.startswith(f"No greeting from 127.0.0.1:{server.port} within 1 s")
    assert "turn SSL on" in sentence


@pytest.mark.parametrize("protocol", ["imaps", "pop3s"])
def test_a_certificate_from_an_unknown_ca_is_refused(fetch_env, make_incoming_server, protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft", ca_file=None)
    sentence = failure_of(fetch_env, server)
    assert sentence.startswith("The TLS certificate of 127.0.0.1 cannot be trusted")
    assert "--ca-file" in sentence


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_starttls_upgrades_the_plain_port(fetch_env, make_incoming_server, protocol):
    server = make_incoming_server(fetch_env, protocol, state="draft", starttls=True)
    confirm_server(fetch_env, server)
    assert IncomingServer.get_by_id(server.id).state == "confirmed"


def test_a_missing_folder_is_named(fetch_env, make_incoming_server):
    server = make_incoming_server(fetch_env, "imaps", state="draft", folder="Nowhere")
    assert failure_of(fetch_env, server) == (
        "The folder 'Nowhere' does not exist on 127.0.0.1; check its name (INBOX is the usual one).")


def test_an_unknown_host_name_is_named(fetch_env, make_incoming_server):
    server = make_incoming_server(fetch_env, "imap", state="draft", host="no-such-host.invalid")
    assert failure_of(fetch_env, server).startswith("Cannot resolve the host name no-such-host.invalid")


def test_a_closed_port_says_nothing_accepts_connections(fetch_env, make_incoming_server):
    from tests.peers.ports import free_port

    server = make_incoming_server(fetch_env, "pop3", state="draft", port=free_port())
    assert failure_of(fetch_env, server).startswith(f"Nothing accepts connections on 127.0.0.1:{server.port}")


def test_a_local_server_needs_no_connection(fetch_env):
    from addons_mail.fetchmail.servers import create_incoming_server

    server = create_incoming_server(fetch_env, "postfix pipe", server_type="local")
    confirm_server(fetch_env, server)
    assert server.state == "confirmed"
