"""Aliases: name sanitizing, uniqueness per domain, reserved names, CLI."""
import json

import pytest
from click.testing import CliRunner

from kernel.cli import cli
from kernel.errors import UserError

from addons_mail.chatter.aliases import create_alias, edit_alias, find_alias, get_alias, sanitize_alias_name
from tests.chatter.chatter_fixtures import chatter_env  # noqa: F401


def test_alias_names_are_sanitized():
    assert sanitize_alias_name("Ventes Équipe") == "ventes-equipe"
    assert sanitize_alias_name("  Support..Desk@other.org ") == "support.desk"
    assert sanitize_alias_name("jobs+2026") == "jobs+2026"
    assert sanitize_alias_name("--") == ""


def test_alias_is_unique_per_domain_and_not_catchall_or_bounce(chatter_env):
    env = chatter_env
    alias = create_alias(env, "Support Team", "test.ticket")
    assert alias.address == "support-team@example.com"
    with pytest.raises(UserError, match="exists already"):
        create_alias(env, "support team", "test.ticket")
    with pytest.raises(UserError, match="catchall or bounce"):
        create_alias(env, "Catchall", "test.ticket")
    with pytest.raises(UserError, match="catchall or bounce"):
        create_alias(env, "bounce", "test.ticket")
    env.params.set("mail.catchall.domain", "other.example")
    assert create_alias(env, "support-team", "test.ticket").address == "support-team@other.example"


def test_alias_checks_model_record_defaults_and_policy(chatter_env):
    env = chatter_env
    with pytest.raises(UserError, match="Unknown model"):
        create_alias(env, "x", "no.such.model")
    with pytest.raises(UserError, match="has no thread"):
        create_alias(env, "x", "res.partner")
    with pytest.raises(UserError, match="No test.ticket with id 99"):
        create_alias(env, "x", "test.ticket", record_id=99)
    with pytest.raises(UserError, match="no field 'colour'"):
        create_alias(env, "x", "test.ticket", defaults={"colour": "red"})
    with pytest.raises(UserError, match="needs an owner document"):
        create_alias(env, "x", "test.ticket", contact_policy="followers")
    with pytest.raises(UserError, match="Unknown contact policy"):
        create_alias(env, "x", "test.ticket", contact_policy="friends")


def test_alias_matching_by_domain_and_allowed_local_part(chatter_env):
    env = chatter_env
    alias = create_alias(env, "jobs", "test.ticket")
    assert find_alias(env, "Jobs@Example.com").id == alias.id
    assert find_alias(env, "jobs@elsewhere.example") is None
    env.params.set("mail.catchall.domain.allowed", "elsewhere.example")
    assert find_alias(env, "jobs@elsewhere.example").id == alias.id


def test_edit_alias_keeps_what_is_not_given(chatter_env):
    env = chatter_env
    create_alias(env, "helpdesk", "test.ticket", defaults={"team": "north"})
    alias = edit_alias(env, "helpdesk", new_name="Help Desk", contact_policy="partners")
    assert (alias.name, alias.defaults, alias.contact_policy) == ("help-desk", {"team": "north"}, "partners")
    assert get_alias(env, "help-desk@example.com").id == alias.id


def test_alias_cli_add_list_edit_remove(chatter_env):
    env = chatter_env
    runner = CliRunner()
    base = ["--db", env.url]
    result = runner.invoke(cli, base + ["alias", "add", "Helpdesk", "--model", "test.ticket",
                                        "--defaults", '{"team": "south"}', "--contact", "partners"])
    assert result.exit_code == 0, result.output
    assert "helpdesk@example.com -> test.ticket" in result.output
    listing = json.loads(runner.invoke(cli, base + ["alias", "list", "--json"]).output)
    assert [(a["address"], a["defaults"], a["contact"], a["status"]) for a in listing] == [
        ("helpdesk@example.com", {"team": "south"}, "partners", "not_tested")]
    bad = runner.invoke(cli, base + ["alias", "add", "x", "--model", "test.ticket", "--defaults", "{oops"])
    assert bad.exit_code != 0 and "not valid JSON" in bad.output and "Traceback" not in bad.output
    assert runner.invoke(cli, base + ["alias", "edit", "helpdesk", "--contact", "everyone"]).exit_code == 0
    assert runner.invoke(cli, base + ["alias", "remove", "helpdesk"]).exit_code == 0
    assert "No aliases." in runner.invoke(cli, base + ["alias", "list"]).output
