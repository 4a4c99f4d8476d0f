"""Test Connection (SPEC §2.1) against real aiosmtpd peers: one sentence per failure."""
import pytest

from addons_mail.mail_server.connection_test import SUCCESS, run_connection_test
from tests.peers.ports import free_port

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_plain_server_succeeds_and_sends_nothing(mail_env, add_server, smtp_peer):
    result = run_connection_test(mail_env, add_server("plain", smtp_peer))
    assert (result.ok, result.message) == (True, SUCCESS)
    assert result.sender == "admin@example.com"
    assert smtp_peer.messages == []


def test_auth_starttls_and_ssl_servers_succeed(mail_env, add_server, smtp_auth_peer, smtp_starttls_peer,
                                               smtp_ssl_peer):
    for name, peer in (("auth", smtp_auth_peer), ("starttls", smtp_starttls_peer), ("ssl", smtp_ssl_peer)):
        result = run_connection_test(mail_env, add_server(name, peer, from_filter="mycompany.com"))
        assert result.message == SUCCESS, name
        assert result.sender == "notifications@mycompany.com"


def test_ssl_on_a_starttls_port(mail_env, add_server, smtp_starttls_peer):
    server = add_server("wrong", smtp_starttls_peer, encryption="ssl")
    result = run_connection_test(mail_env, server)
    assert not result.ok
    assert result.message == "An SSL exception occurred. Check connection security type."


def test_bad_password(mail_env, add_server, smtp_auth_peer):
    server = add_server("auth", smtp_auth_peer, password="wrong")
    message = run_connection_test(mail_env, server).message
    assert message.startswith("Authentication failed: 127.0.0.1 refused the login juniper (535")
    assert message.endswith("Check the user name and password.")
    assert "wrong" not in message


def test_untrusted_certificate_names_the_host_and_the_reason(mail_env, add_server, untrusted_ca_ssl_peer, tls_ca_pem):
    server = add_server("untrusted", untrusted_ca_ssl_peer, ca_file=tls_ca_pem)
    message = run_connection_test(mail_env, server).message
    assert message.startswith("The certificate of 127.0.0.1 could not be verified (")
    assert "unable to get local issuer certificate" in message
    server.verify_tls = False
    assert run_connection_test(mail_env, server).message == SUCCESS


def test_refused_sender(mail_env, add_server, smtp_peer):
    smtp_peer.reject_sender("sales@mycompany.com", "553 5.7.1 Sender not allowed here")
    server = add_server("plain", smtp_peer, from_filter="sales@mycompany.com")
    message = run_connection_test(mail_env, server).message
    assert message.startswith("The server 127.0.0.1 refused the sender sales@mycompany.com "
                              "(553 5.7.1 Sender not allowed here).")


def test_refused_recipient(mail_env, add_server, smtp_peer):
    smtp_peer.reject_recipient("nobody@example.org", "550 5.1.1 No such user")
    server = add_server("plain", smtp_peer)
    message = run_connection_test(mail_env, server, "nobody@example.org").message
    assert message.startswith("The server 127.0.0.1 refused the recipient nobody@example.org "
                              "(550 5.1.1 No such user).")


def test_nothing_listening(mail_env, add_server):
    server = add_server("nowhere", host="127.0.0.1", port=free_port(), encryption="none", timeout=3)
    assert run_connection_test(mail_env, server).message == "No response received. Check server address and port number."


def test_plain_client_on_a_server_requiring_starttls(mail_env, add_server, smtp_starttls_peer):
    server = add_server("no-tls", smtp_starttls_peer, encryption="none", user=None, password=None)
    message = run_connection_test(mail_env, server).message
    assert message.startswith("The server 127.0.0.1 refused the sender admin@example.com (530")
