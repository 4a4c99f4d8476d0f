"""The crm plugin: leads, their followers, the sales alias and the `juniper crm lead` commands."""
import json

import pytest

from kernel.errors import UserError
from kernel.models import Contact


def test_install_crm_brings_chatter_and_creates_the_sales_alias(env, install):
    installed = install(env, "crm")
    assert "chatter" in installed and installed[-1] == "crm"
    alias = env["mail.alias"].get(env["mail.alias"].name == "sales")
    assert alias.model == "crm.lead"
    assert alias.record_id is None


def test_a_lead_with_an_email_has_that_contact_following_it(env, install):
    install(env, "crm")
    from addons_mail.chatter.thread import followers_of
    from plugins.crm.models import create_lead

    lead = create_lead(env, "Office chairs", email="Mary Major <mary@customer.example>",
                       followers=["bob@mycompany.example"])
    assert lead.contact.name == "Mary Major"
    assert lead.email_from == "mary@customer.example"
    assert lead.stage == "new"
    assert sorted(f.contact.email for f in followers_of(lead)) == ["bob@mycompany.example",
                                                                    "mary@customer.example"]


def test_a_lead_reuses_the_contact_that_has_its_email(env, install):
    install(env, "crm")
    from plugins.crm.models import create_lead

    known = Contact.create(name="Known Customer", email="Known@Customer.example")
    lead = create_lead(env, "Desks", email="known@customer.example")
    assert lead.contact_id == known.id


def test_a_lead_needs_a_name(env, install):
    install(env, "crm")
    from plugins.crm.models import create_lead

    with pytest.raises(UserError, match="needs a name"):
        create_lead(env, "  ")


def test_message_new_fills_the_lead_from_the_email(env, install):
    install(env, "crm")
    from addons_mail.chatter.incoming import parse_incoming
    from addons_mail.chatter.thread import followers_of, message_new
    from plugins.crm.models import Lead

    raw = (b"From: Jane Doe <jane@prospect.example>\r\nTo: sales@mycompany.example\r\n"
           b"Subject: Quote for 40 desks\r\nMessage-Id: <q1@prospect.example>\r\n\r\n"
           b"Hello, could you send us a quote for 40 desks?\r\n")
    lead = message_new(env, Lead, parse_incoming(raw), {"stage": "qualified"})
    assert (lead.name, lead.email_from, lead.stage) == ("Quote for 40 desks", "jane@prospect.example", "qualified")
    assert lead.contact.name == "Jane Doe"
    assert lead.description == "Hello, could you send us a quote for 40 desks?"
    assert [f.contact.email for f in followers_of(lead)] == ["jane@prospect.example"]


def test_cli_adds_and_lists_leads(env, install, juniper):
    install(env, "crm")
    result = juniper("crm", "lead", "add", "Office chairs", "--email", "mary@customer.example",
                     "--follower", "bob@mycompany.example", "--follower", "carol@mycompany.example")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Created lead #1: Office chairs")
    table = juniper("crm", "lead", "list")
    assert "Office chairs" in table.output and "mary@customer.example" in table.output
    rows = json.loads(juniper("crm", "lead", "list", "--json").output)
    assert len(rows) == 1
    assert rows[0]["name"] == "Office chairs"
    assert rows[0]["followers"] == 3
    assert rows[0]["stage"] == "new"


def test_cli_refuses_a_bad_follower_email_in_one_sentence(env, install, juniper):
    install(env, "crm")
    result = juniper("crm", "lead", "add", "Chairs", "--follower", "not-an-address")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: 'not-an-address' is not an email address."
    assert json.loads(juniper("crm", "lead", "list", "--json").output) == []


def test_cli_says_when_crm_is_not_installed(env, juniper):
    result = juniper("crm", "lead", "list")
    assert result.exit_code == 2
    assert "juniper addons install crm" in result.output


def test_uninstall_removes_the_sales_alias_and_reinstall_brings_it_back(env, install):
    from kernel.installer import uninstall_addon

    install(env, "crm")
    uninstall_addon(env, "crm")
    assert not env["mail.alias"].select().where(env["mail.alias"].name == "sales").exists()
    install(env, "crm")
    assert env["mail.alias"].select().where(env["mail.alias"].name == "sales").count() == 1


NEW_LEAD_EMAIL = (b"From: Jane Doe <jane@prospect.example>\r\nTo: Sales <sales@mycompany.example>\r\n"
                  b"Subject: Quote for 40 desks\r\nMessage-Id: <q2@prospect.example>\r\n"
                  b"Content-Type: text/plain; charset=utf-8\r\n\r\nCould you send us a quote?\r\n")


def test_an_email_to_sales_piped_into_the_gateway_creates_a_lead(env, install, juniper):
    install(env, "crm")
    env.params.set("mail.catchall.domain", "mycompany.example")
    explained = juniper("mail", "gateway", "process", "--explain", "--json", input=NEW_LEAD_EMAIL)
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.output)["route"] == "alias"
    assert json.loads(juniper("crm", "lead", "list", "--json").output) == []

    result = juniper("mail", "gateway", "process", "--json", input=NEW_LEAD_EMAIL)
    assert result.exit_code == 0, result.output
    routed = json.loads(result.output)
    assert (routed["route"], routed["model"]) == ("alias", "crm.lead")
    leads = json.loads(juniper("crm", "lead", "list", "--json").output)
    assert [(lead["id"], lead["name"], lead["email_from"], lead["contact"]) for lead in leads] == [
        (routed["res_id"], "Quote for 40 desks", "jane@prospect.example", "Jane Doe")]
    thread = juniper("thread", "show", "crm.lead", str(routed["res_id"])).output
    assert "Jane Doe (email)" in thread and "Could you send us a quote?" in thread


def test_the_same_email_piped_twice_makes_one_lead(env, install, juniper):
    install(env, "crm")
    env.params.set("mail.catchall.domain", "mycompany.example")
    juniper("mail", "gateway", "process", input=NEW_LEAD_EMAIL)
    juniper("mail", "gateway", "process", input=NEW_LEAD_EMAIL)
    assert len(json.loads(juniper("crm", "lead", "list", "--json").output)) == 1
