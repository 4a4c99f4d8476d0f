"""The mail pipe `juniper mail gateway process` and the dead-letter commands."""
import glob
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from addons_mail.fetchmail.models import DeadLetter
from kernel.cli import cli
from tests.corpus import CORPUS
from tests.fetchmail.conftest import make_message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MALFORMED = sorted(glob.glob(str(CORPUS / "malformed" / "*.eml"))) if CORPUS else []


def juniper(db_url, *args, input=None):
    return CliRunner().invoke(cli, ["--db", db_url, *args], input=input, catch_exceptions=False)


def received():
    from fetchmail_test_gateway.hooks import ReceivedMessage

    return ReceivedMessage


def test_all_malformed_corpus_messages_go_through_the_pipe_stored_or_dead_lettered(gateway_env, db_url):
    assert len(MALFORMED) == 59
    routes = {}
    for path in MALFORMED:
        result = juniper(db_url, "mail", "gateway", "process", "--json", path)
        assert result.exit_code == 0, (path, result.output)
        outcome = json.loads(result.output)
        assert outcome["stored"] is True
        if outcome["route"] == "dead_letter":
            assert DeadLetter.get_or_none(DeadLetter.id == outcome["dead_letter_id"]) is not None
        else:
            assert outcome["route"] in ("default_model", "duplicate")
            assert received().get_or_none(received().id == outcome["res_id"]) is not None
        routes[outcome["route"]] = routes.get(outcome["route"], 0) + 1
    assert sum(routes.values()) == 59 and routes.get("default_model", 0) > 0


def test_without_a_gateway_the_pipe_dead_letters_every_malformed_message(fetch_env, db_url):
    for path in MALFORMED[:20]:
        result = juniper(db_url, "mail", "gateway", "process", path)
        assert result.exit_code == 0, result.output
        assert "error: No mail gateway is installed." in result.output
    assert DeadLetter.select().count() >= 1


def test_the_pipe_reads_stdin_and_prints_the_route(gateway_env, db_url):
    raw = make_message(1)
    result = juniper(db_url, "mail", "gateway", "process", input=raw)
    assert result.exit_code == 0
    assert "route: default_model" in result.output and "model: test.received.message" in result.output
    again = juniper(db_url, "mail", "gateway", "process", input=raw)
    assert "route: duplicate" in again.output
    assert received().select().count() == 1


def test_explain_says_the_route_and_writes_nothing(gateway_env, db_url):
    result = juniper(db_url, "mail", "gateway", "process", "--explain", "--json", input=make_message(1))
    assert result.exit_code == 0
    assert json.loads(result.output)["route"] == "default_model"
    assert received().select().count() == 0 and DeadLetter.select().count() == 0


def test_explain_without_a_gateway_says_so_and_stores_no_dead_letter(fetch_env, db_url):
    result = juniper(db_url, "mail", "gateway", "process", "--explain", input=make_message(1))
    assert "No mail gateway is installed." in result.output
    assert DeadLetter.select().count() == 0


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_an_unavailable_database_exits_75_so_the_mta_retries(backend):
    from tests.peers.ports import free_port

    bad_url = {"postgresql": f"postgresql://postgres@127.0.0.1:{free_port()}/test?connect_timeout=5",
               "sqlite": "/nonexistent/folder/juniper.db"}[backend]
    process = subprocess.run(
        [sys.executable, "-c", "from kernel.cli import main; main()",
         "--db", bad_url, "mail", "gateway", "process"],
        input=make_message(1), capture_output=True, cwd=ROOT, timeout=60,
    )
    assert process.returncode == 75
    last_line = process.stderr.decode().strip().splitlines()[-1]
    assert last_line.startswith("Error: Cannot open the database")
    assert "Traceback" not in process.stderr.decode()


def test_dead_letters_can_be_listed_shown_retried_and_deleted(fetch_env, db_url):
    juniper(db_url, "mail", "gateway", "process", input=make_message(1, subject="first"))
    juniper(db_url, "mail", "gateway", "process", input=make_message(2, subject="please explode"))
    listing = json.loads(juniper(db_url, "mail", "deadletter", "list", "--json").output)
    assert [row["subject"] for row in listing] == ["please explode", "first"] or len(listing) == 2
    first = next(row for row in listing if row["subject"] == "first")
    exploding = next(row for row in listing if row["subject"] == "please explode")
    assert first["error"] == "No mail gateway is installed."

    shown = juniper(db_url, "mail", "deadletter", "show", str(first["id"]))
    assert "Subject: first" in shown.output

    assert juniper(db_url, "addons", "install", "fetchmail_test_gateway").exit_code == 0
    retried = juniper(db_url, "mail", "deadletter", "retry", str(first["id"]))
    assert retried.exit_code == 0 and "route: default_model" in retried.output
    assert DeadLetter.get_or_none(DeadLetter.id == first["id"]) is None

    failing = juniper(db_url, "mail", "deadletter", "retry", str(exploding["id"]))
    assert failing.exit_code == 1 and "explode" in failing.output
    letter = DeadLetter.get_by_id(exploding["id"])
    assert letter.retries == 1 and "ValueError" in letter.error

    assert juniper(db_url, "mail", "deadletter", "delete", str(exploding["id"])).exit_code == 0
    assert DeadLetter.select().count() == 0
    missing = CliRunner().invoke(cli, ["--db", db_url, "mail", "deadletter", "show", "999"])
    assert missing.exit_code == 2 and "No dead letter #999." in missing.output


def test_a_message_dead_lettered_twice_is_kept_once(fetch_env):
    from addons_mail.fetchmail.api import store_dead_letter

    raw = make_message(7)
    first = store_dead_letter(fetch_env, raw, "first error")
    second = store_dead_letter(fetch_env, raw, "second error")
    assert first.id == second.id and DeadLetter.get_by_id(first.id).error == "second error"
