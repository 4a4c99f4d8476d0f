"""`juniper fetchmail add|list|edit|test|fetch`: passwords never printed."""
import json

from click.testing import CliRunner

from addons_mail.fetchmail.models import IncomingServer
from kernel.cli import cli
from tests.fetchmail.conftest import make_message


def juniper(db_url, *args, **kwargs):
    return CliRunner().invoke(cli, ["--db", db_url, *args], **kwargs)


def test_add_test_fetch_list_and_edit_an_imaps_server(gateway_env, db_url, dovecot, dovecot_user, tls_ca_pem,
                                                     monkeypatch):
    user, password = dovecot_user
    dovecot.append(user, make_message(1))
    monkeypatch.setenv("MAILBOX_PASSWORD", password)
    added = juniper(db_url, "fetchmail", "add", "support", "--type", "imap", "--host", "127.0.0.1",
                    "--port", str(dovecot.ports["imaps"]), "--ssl", "--user", user,
                    "--password-env", "MAILBOX_PASSWORD", "--ca-file", tls_ca_pem, "--model", "res.partner")
    assert added.exit_code == 0, added.output
    assert IncomingServer.get(IncomingServer.name == "support").state == "draft"

    tested = juniper(db_url, "fetchmail", "test", "support")
    assert tested.exit_code == 0 and "confirmed" in tested.output

    fetched = juniper(db_url, "fetchmail", "fetch", "--json")
    assert fetched.exit_code == 0
    assert json.loads(fetched.output) == [
        {"server": "support", "fetched": 1, "stored": 1, "dead_lettered": 0, "error": None}]

    listing = juniper(db_url, "fetchmail", "list", "--json")
    row = json.loads(listing.output)[0]
    assert row["state"] == "confirmed" and row["password_set"] is True and row["model"] == "res.partner"
    assert "password" not in row
    table = juniper(db_url, "fetchmail", "list").output
    for output in (added.output, tested.output, fetched.output, listing.output, table):
        assert password not in output

    edited = juniper(db_url, "fetchmail", "edit", "support", "--port", str(dovecot.ports["imap"]), "--no-ssl")
    assert edited.exit_code == 0 and "state draft" in edited.output


def test_a_failing_test_prints_one_sentence_and_exits_non_zero(fetch_env, db_url, dovecot, dovecot_user,
                                                              tmp_path):
    user, _ = dovecot_user
    secret_file = tmp_path / "password"
    secret_file.write_text("wrong-password\n")
    juniper(db_url, "fetchmail", "add", "pop", "--type", "pop", "--host", "127.0.0.1",
            "--port", str(dovecot.ports["pop3"]), "--user", user, "--password-file", str(secret_file))
    result = juniper(db_url, "fetchmail", "test", "pop")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Authentication failed for user {user} on 127.0.0.1")
    assert "wrong-password" not in result.output and "Traceback" not in result.output


def test_bad_settings_are_refused_with_a_sentence(fetch_env, db_url):
    both = juniper(db_url, "fetchmail", "add", "x", "--host", "h", "--user", "u", "--ssl", "--starttls",
                   "--password-env", "HOME")
    assert both.exit_code == 1 and "SSL and STARTTLS exclude each other." in both.output
    no_model = juniper(db_url, "fetchmail", "add", "x", "--host", "h", "--user", "u",
                       "--model", "crm.nothing", "--password-env", "HOME")
    assert "No model named 'crm.nothing'" in no_model.output
    missing = juniper(db_url, "fetchmail", "test", "nothing")
    assert missing.exit_code == 2 and "No incoming server named 'nothing'." in missing.output


def test_fetch_exits_1_when_a_server_failed(fetch_env, db_url):
    from tests.peers.ports import free_port

    IncomingServer.create(name="down", server_type="pop", host="127.0.0.1", port=free_port(), user="u",
                          password="p", state="confirmed", timeout=2)
    result = juniper(db_url, "fetchmail", "fetch")
    assert result.exit_code == 1 and "Nothing accepts connections" in result.output
