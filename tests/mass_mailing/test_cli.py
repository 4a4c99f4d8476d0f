"""The command line: juniper mailing … and juniper blacklist …, with --json listings."""
import json

import pytest
from click.testing import CliRunner

from kernel.cli import cli
from tests.mass_mailing.conftest import BODY, add_contacts


@pytest.fixture
def run(mailing_env, db_url):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--db", db_url, *args], catch_exceptions=False)
        return result

    return invoke


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.html"
    path.write_text(BODY, encoding="utf-8")
    return str(path)


def test_create_list_and_status(run, body_file):
    add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@other.example")])
    result = run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", body_file,
                 "--contacts", "email~customer.example")
    assert result.exit_code == 0, result.output
    assert "created (draft, 1 recipients)" in result.output
    listing = json.loads(run("mailing", "list", "--json").output)
    assert [(m["subject"], m["state"], m["recipients"]) for m in listing] == [("News", "draft", "email~customer.example")]
    status = json.loads(run("mailing", "status", str(listing[0]["id"]), "--json").output)
    assert status["state"] == "draft" and status["traces"]["sent"] == 0
    assert "State: draft" in run("mailing", "status", str(listing[0]["id"])).output


def test_mailing_lists_from_the_command_line(run, body_file):
    add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example")])
    assert "Added 2 contact(s)" in run("mailing", "list-add", "News", "--contacts", "customer.example").output
    assert json.loads(run("mailing", "lists", "--json").output) == [{"name": "News", "members": 2, "opted_out": 0}]
    result = run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", body_file,
                 "--list", "News")
    assert result.exit_code == 0 and "2 recipients" in result.output


@pytest.mark.parametrize("args, sentence", [
    (["--contacts", "nosuchfield=1"], "unknown field 'nosuchfield'"),
    (["--list", "Nope"], "No mailing list named 'Nope'"),
    ([], "either to contacts by a query or to a mailing list"),
])
def test_bad_mailing_input_is_one_line(run, body_file, args, sentence):
    result = run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", body_file,
                 *args)
    assert result.exit_code != 0
    assert sentence in result.output and "Traceback" not in result.output


def test_a_template_attack_is_refused_at_creation(run, tmp_path):
    attack = tmp_path / "attack.html"
    attack.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    result = run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", str(attack),
                 "--contacts", "all")
    assert result.exit_code == 1
    assert "tries something a template may not do" in result.output and "Traceback" not in result.output


def test_blacklist_commands(run):
    assert run("blacklist", "add", "Mary@Customer.Example", "--reason", "asked").exit_code == 0
    rows = json.loads(run("blacklist", "list", "--json").output)
    assert [(r["email"], r["reason"]) for r in rows] == [("mary@customer.example", "asked")]
    assert run("blacklist", "remove", "mary@customer.example", "--reason", "back").exit_code == 0
    history = json.loads(run("blacklist", "show", "mary@customer.example", "--json").output)
    assert not history["blacklisted"]
    assert [n["note"] for n in history["notes"]] == ["Blacklisted: asked", "Removed from the blacklist: back"]
    assert json.loads(run("blacklist", "list", "--json").output) == []
    result = run("blacklist", "remove", "mary@customer.example", "--reason", "again")
    assert result.exit_code == 2 and "is not blacklisted" in result.output
    assert "The blacklist is empty." in run("blacklist", "list").output


def test_pause_resume_refusals_are_one_line(run, body_file):
    add_contacts([("Ada", "ada@customer.example")])
    run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", body_file,
        "--contacts", "all")
    result = run("mailing", "resume", "1")
    assert result.exit_code == 1 and "is draft, not paused" in result.output
    result = run("mailing", "pause", "99")
    assert result.exit_code == 2 and "No mailing with id 99" in result.output
