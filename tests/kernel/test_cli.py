"""The kernel's commands through click's runner, and one real subprocess."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kernel.cli import cli


@pytest.fixture
def run(db_url):
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, ["--db", db_url, *args], input=input)

    invoke("init", "--company", "Acme")
    return invoke


def test_init_creates_company_admin_and_secret(run):
    users = json.loads(run("users", "list", "--json").output)
    assert [u["login"] for u in users] == ["admin"]
    listing = json.loads(run("config", "list", "--json").output)
    secret = next(item for item in listing if item["key"] == "database.secret")
    assert secret["value"] == "********"  # never printed


def test_addons_install_and_list_json(run, addons):
    name = addons.make("shop")
    result = run("addons", "install", name)
    assert result.exit_code == 0 and f"Installed: {name}" in result.output
    rows = {row["name"]: row for row in json.loads(run("addons", "list", "--json").output)}
    assert rows[name]["installed"] is True and rows[name]["version"] == "1.0"
    plugins = json.loads(run("plugins", "list", "--json").output)
    kernel = next(p for p in plugins if p["name"] == "kernel")
    assert "register_commands" in kernel["hooks"] and "register_parameters" in kernel["hooks"]
    assert name in [p["name"] for p in plugins]


def test_known_errors_are_one_line_with_exit_code_2(run):
    result = run("addons", "install", "no_such_addon")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: Unknown addon 'no_such_addon'. Run `juniper addons list` to see the available addons."]
    assert "Traceback" not in result.output


def test_uninstall_refusal_is_one_line(run, addons):
    lib = addons.make("lib")
    app = addons.make("app", depends=["lib"])
    run("addons", "install", app)
    result = run("addons", "uninstall", lib, "--yes")
    assert result.exit_code == 2
    assert f"Cannot uninstall {lib!r}: the installed addon(s) {app} depend on it." in result.output


def test_config_set_get_and_type_errors(run):
    assert run("config", "set", "hosting", "online").exit_code == 0
    assert run("config", "get", "hosting").output.strip() == "online"
    result = run("config", "get", "no.such.key")
    assert result.exit_code == 2 and "Unknown parameter 'no.such.key'" in result.output
    run("config", "unset", "hosting")
    assert run("config", "get", "hosting").output.strip() == "on-premise"


def test_contacts_and_users(run):
    assert run("contacts", "add", "Mary Major", "--email", "Mary@Customer.example.com").exit_code == 0
    result = run("contacts", "add", "Bad", "--email", "not-an-address")
    assert result.exit_code == 1 and "'not-an-address' is not an email address." in result.output
    contacts = json.loads(run("contacts", "list", "--json").output)
    assert [c["name"] for c in contacts if c["email"]] == ["Mary Major"]
    assert run("users", "add", "mary", "--email", "mary@customer.example.com", "--notify", "inbox").exit_code == 0
    users = {u["login"]: u for u in json.loads(run("users", "list", "--json").output)}
    assert users["mary"]["notify"] == "inbox" and users["mary"]["name"] == "Mary Major"  # contact reused
    result = run("users", "add", "mary", "--email", "x@example.com")
    assert result.exit_code == 1 and "exists already" in result.output


def test_cron_list_and_run(run, addons):
    name = addons.make("ticker", hooks="""
        def tick(env):
            env.params.set("ticker.count", int(env.params.get_raw("ticker.count") or 0) + 1)

        @hookimpl
        def register_cron_jobs(register):
            register("Ticker", tick, 3600)
    """)
    run("addons", "install", name)
    rows = json.loads(run("cron", "list", "--json").output)
    assert [(r["name"], r["interval_seconds"]) for r in rows] == [("Ticker", 3600)]
    result = run("cron", "run", "Ticker")
    assert result.exit_code == 0 and "Ticker: done" in result.output
    assert run("config", "get", "ticker.count").output.strip() == "1"
    assert run("worker", "--once").exit_code == 0  # ran at install time? no: due since install
    assert run("config", "get", "ticker.count").output.strip() in ("1", "2")
    result = run("cron", "run", "Nope")
    assert result.exit_code == 2 and "No scheduled action named 'Nope'" in result.output


def test_real_subprocess_run(tmp_path):
    db = tmp_path / "real.db"
    environ = dict(os.environ, JUNIPER_DB=str(db))
    init = subprocess.run([sys.executable, "-m", "kernel", "init"], env=environ, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    listing = subprocess.run([sys.executable, "-m", "kernel", "addons", "list", "--json"], env=environ,
                             capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert isinstance(json.loads(listing.stdout), list)
    bad = subprocess.run([sys.executable, "-m", "kernel", "addons", "install", "ghost"], env=environ,
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("Error: Unknown addon 'ghost'. Run `juniper addons list` to see the available "
                                  "addons.")
