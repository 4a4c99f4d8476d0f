"""Server choice (SPEC §2.2, the seed's order), header From, envelope sender and Reply-To (§2.3)."""
import json

from click.testing import CliRunner

from addons_mail.mail_server.addresses import decide_sender, format_reply_to, mail_id_from_bounce_token
from addons_mail.mail_server.addresses import matches_from_filter, tagged_bounce_address
from addons_mail.mail_server.server_choice import choose_outgoing_server, explain_sending
from kernel import hookimpl
from kernel.cli import cli


def test_from_filter_matches_exact_address_or_exact_domain_only():
    assert matches_from_filter('"Admin" <Admin@Example.com>', "example.com")
    assert matches_from_filter("test@example.com", "other.org, test@example.com")
    assert not matches_from_filter("admin@mmail.example.com", "mail.example.com")
    assert not matches_from_filter("admin@sub.mail.example.com", "mail.example.com")
    assert not matches_from_filter("other@example.com", "test@example.com")
    assert matches_from_filter("anyone@anywhere.org", "")


def test_seed_order_exact_address_then_domain_then_no_filter(mail_env, add_server):
    exact = add_server("exact", from_filter="test@example.com", priority=30)
    domain = add_server("domain", from_filter="example.com", priority=20)
    catch_all = add_server("catch-all", from_filter="", priority=10)
    assert choose_outgoing_server(mail_env, "test@example.com").server.id == exact.id
    assert choose_outgoing_server(mail_env, "other@example.com").server.id == domain.id
    choice = choose_outgoing_server(mail_env, "mary@customer.example.com")
    assert (choice.server.id, choice.step) == (catch_all.id, "no_filter")


def test_seed_order_default_from_then_first_by_priority(mail_env, add_server):
    add_server("second", from_filter="other.org", priority=20)
    first = add_server("first", from_filter="third.org", priority=5)
    mycompany = add_server("mycompany", from_filter="mycompany.com", priority=50)
    choice = choose_outgoing_server(mail_env, "mary@customer.example.com")
    assert (choice.server.id, choice.step) == (mycompany.id, "default_from")
    mycompany.active = False
    mycompany.save()
    choice = choose_outgoing_server(mail_env, "mary@customer.example.com")
    assert (choice.server.id, choice.step) == (first.id, "first_by_priority")


def test_without_server_records_the_default_server_and_its_filter_are_used(mail_env):
    mail_env.params.set("mail.default.from_filter", "mycompany.com")
    choice = choose_outgoing_server(mail_env, "admin@example.com")
    assert (choice.server, choice.step, choice.from_filter) == (None, "default_server", "mycompany.com")


def test_seed_encapsulation_examples(mail_env):
    decision = decide_sender(mail_env, '"Admin" <admin@example.com>', "mycompany.com")
    assert decision.header_from == "Admin <notifications@mycompany.com>"
    assert decision.encapsulated
    decision = decide_sender(mail_env, "mary@customer.example.com", "mycompany.com")
    assert decision.header_from == "mary <notifications@mycompany.com>"
    decision = decide_sender(mail_env, "Sales <sales@mycompany.com>", "mycompany.com")
    assert (decision.header_from, decision.encapsulated) == ("Sales <sales@mycompany.com>", False)


def test_full_default_from_in_filter_encapsulates_every_other_address(mail_env):
    mail_env.params.set("mail.default.from", "notifications@mycompany.com")
    decision = decide_sender(mail_env, "Sales <sales@mycompany.com>", "notifications@mycompany.com, mycompany.com")
    assert decision.header_from == "Sales <notifications@mycompany.com>"
    assert decision.encapsulated


def test_envelope_sender_is_the_tagged_bounce_address_with_a_domain_filter(mail_env):
    decision = decide_sender(mail_env, "Sales <sales@mycompany.com>", "mycompany.com", mail_id=42)
    assert decision.verp
    assert decision.envelope_from == tagged_bounce_address(mail_env, 42)
    token = decision.envelope_from.split("+", 1)[1].split("@")[0]
    assert mail_id_from_bounce_token(mail_env, token) == 42
    assert mail_id_from_bounce_token(mail_env, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    mail_env.params.set("mail.bounce.verp", "false")
    assert decide_sender(mail_env, "sales@mycompany.com", "mycompany.com", mail_id=42).envelope_from == \
        "bounce@mycompany.com"


def test_envelope_sender_is_the_header_from_when_the_bounce_address_does_not_match(mail_env):
    decision = decide_sender(mail_env, "Sales <sales@mycompany.com>", "sales@mycompany.com", mail_id=7)
    assert (decision.envelope_from, decision.verp) == ("sales@mycompany.com", False)


def test_the_bounce_address_is_never_the_header_from(mail_env):
    decision = decide_sender(mail_env, "bounce@mycompany.com", "mycompany.com")
    assert decision.header_from == "bounce <notifications@mycompany.com>"


def test_reply_to_is_shortened_to_68_characters():
    assert format_reply_to("My Company", "Lead 42", "catchall@mycompany.com") == \
        "My Company Lead 42 <catchall@mycompany.com>"
    long_name = "Quotation S00042 renovation"
    shortened = format_reply_to("My Very Long Company Name Incorporated", long_name, "catchall@mycompany.com")
    assert shortened == f"{long_name} <catchall@mycompany.com>"
    assert len("Reply-To: " + shortened) <= 68
    assert format_reply_to("X" * 60, "Y" * 60, "catchall@mycompany.com") == "catchall@mycompany.com"


class ChooseLast:
    def __init__(self, server):
        self.server = server

    @hookimpl
    def choose_outgoing_server(self, env, mail, from_address):
        return self.server if from_address.endswith("@plugin.example") else None


def test_a_plugin_may_choose_the_server_first(mail_env, add_server):
    add_server("domain", from_filter="plugin.example")
    special = add_server("special", from_filter="elsewhere.org", priority=99)
    plugin = ChooseLast(special)
    mail_env.pm.register(plugin, name="choose-last")
    try:
        choice = choose_outgoing_server(mail_env, "a@plugin.example")
        assert (choice.server.id, choice.step) == (special.id, "plugin")
        assert choose_outgoing_server(mail_env, "a@other.example").server.id != special.id
    finally:
        mail_env.pm.unregister(name="choose-last")


def test_explain_json_has_the_documented_keys(mail_env, add_server, db_url):
    add_server("company", from_filter="mycompany.com")
    result = CliRunner().invoke(cli, ["--db", db_url, "mail", "explain", "--from", '"Admin" <admin@example.com>',
                                      "--to", "x@y.org", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {k: data[k] for k in ("server", "step", "header_from", "envelope_from", "encapsulated")} == {
        "server": "company", "step": "default_from", "header_from": "Admin <notifications@mycompany.com>",
        "envelope_from": "bounce@mycompany.com", "encapsulated": True}


def test_explain_writes_nothing_and_names_the_default_server(mail_env):
    data = explain_sending(mail_env, "sales@mycompany.com")
    assert data["server"] is None and data["step"] == "default_server"
    assert data["header_from"] == "sales@mycompany.com" and not data["encapsulated"]
