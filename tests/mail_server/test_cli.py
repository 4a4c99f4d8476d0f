"""`juniper mail` commands: servers (passwords never shown), test, send, queue, DKIM, DNS check."""
import json

import pytest
from click.testing import CliRunner

from kernel.cli import cli

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def run(db_url, *args):
    return CliRunner().invoke(cli, ["--db", db_url, *args])


def test_server_add_reads_the_password_from_a_file_and_never_shows_it(mail_env, db_url, smtp_auth_peer, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    result = run(db_url, "mail", "server", "add", "relay", "--host", "127.0.0.1", "--port", str(smtp_auth_peer.port),
                 "--encryption", "none", "--user", "juniper", "--password-file", str(secret))
    assert result.exit_code == 0, result.output
    listing = run(db_url, "mail", "server", "list", "--json")
    assert "s3cret" not in listing.output
    (row,) = json.loads(listing.output)
    assert (row["name"], row["has_password"], row["verify_tls"]) == ("relay", True, True)
    tested = run(db_url, "mail", "server", "test", "relay")
    assert tested.exit_code == 0 and "Connection Test Successful!" in tested.output


def test_server_test_failure_is_one_line(mail_env, db_url, add_server, smtp_auth_peer):
    add_server("relay", smtp_auth_peer, password="wrong")
    result = run(db_url, "mail", "server", "test", "relay")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Authentication failed") and "Traceback" not in result.output


def test_send_then_queue_list(mail_env, db_url, add_server, smtp_peer):
    add_server("company", smtp_peer)
    result = run(db_url, "mail", "send", "--from", "sales@mycompany.com", "--to", "c@example.org",
                 "--subject", "Hi", "--body", "Hello")
    assert result.exit_code == 0, result.output
    assert len(smtp_peer.messages) == 1
    listing = json.loads(run(db_url, "mail", "queue", "list", "--state", "sent", "--json").output)
    assert [row["subject"] for row in listing] == ["Hi"]


def test_dkim_setup_prints_the_record_to_publish(mail_env, db_url):
    result = run(db_url, "mail", "dkim", "setup", "mycompany.com", "--selector", "juniper1")
    assert result.exit_code == 0, result.output
    assert 'juniper1._domainkey.mycompany.com. TXT "v=DKIM1; k=rsa; p=' in result.output
    assert "PRIVATE KEY" not in run(db_url, "mail", "dkim", "list", "--json").output


def test_dns_check_exit_code(mail_env, db_url, dns_server):
    dns_server.add("mycompany.com", "MX", "10 mx.mycompany.com")
    result = run(db_url, "mail", "dns-check", "mycompany.com", "--nameserver", f"127.0.0.1:{dns_server.port}",
                 "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["has_errors"] and {f["check"] for f in data["findings"]} >= {"spf", "mx"}
