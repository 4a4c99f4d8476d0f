"""Threads: posting notifies followers (email through the queue, or inbox), statuses follow the queue,
failed-delivery marker with resend and ignore, batched fan-out."""
import json
from email.utils import parseaddr

import pytest
from click.testing import CliRunner

from kernel.cli import cli
from kernel.errors import UserError
from kernel.models import Contact

from addons_mail.chatter.aliases import create_alias
from addons_mail.chatter.models import Message, Notification
from addons_mail.chatter.notify import (REPLY_TO_MAX_LENGTH, failed_deliveries, format_reply_to,
                                        ignore_failed_deliveries, resend_failed_deliveries)
from addons_mail.chatter.thread import follow, message_post, unfollow
from addons_mail.mail_server.api import OutgoingMail, process_queue
from tests.chatter.chatter_fixtures import chatter_env, count_statements, make_user  # noqa: F401


def _ticket(env, name="Printer on fire"):
    return env["test.ticket"].create(name=name)


def _mails_of(message):
    ids = [n.mail_id for n in Notification.select().where(Notification.message == message.id) if n.mail_id]
    return list(OutgoingMail.select().where(OutgoingMail.id.in_(ids)).order_by(OutgoingMail.id))


def _use_smtp_peer(env, peer):
    env.params.set("mail.smtp.host", peer.host)
    env.params.set("mail.smtp.port", peer.port)
    env.params.set("mail.smtp.encryption", "none")


def test_post_notifies_followers_except_author_with_thread_headers(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    alice, bob = Contact.create(name="Alice", email="alice@client.example"), Contact.create(
        name="Bob", email="bob@client.example")
    follow(env, ticket, [alice, bob, "carol@partner.example"])
    message = message_post(env, ticket, "<p>Smoke is gone</p>", author=alice, send_now=False)

    notified = {n.contact.email: n.status for n in Notification.select().where(Notification.message == message.id)}
    assert notified == {"bob@client.example": "ready", "carol@partner.example": "ready"}
    mails = _mails_of(message)
    assert sorted(m.email_to for m in mails) == ["Bob <bob@client.example>", "carol <carol@partner.example>"]
    mail = mails[0]
    assert mail.email_from == "Alice <alice@client.example>"
    assert mail.subject == "Printer on fire"
    assert message.message_id.endswith(f"-juniper-{ticket.id}-test.ticket@example.com>")
    assert mail.message_id == message.message_id and mail.references == message.message_id
    headers = mail.headers if isinstance(mail.headers, dict) else json.loads(mail.headers)
    assert headers == {"X-Juniper-Objects": f"test.ticket-{ticket.id}"}
    assert parseaddr(mail.reply_to) == ("Juniper Test Company Printer on fire", "catchall@example.com")


def test_reply_to_prefers_document_alias_and_references_parent(chatter_env):
    env = chatter_env
    ticket = _ticket(env, "Short")
    create_alias(env, "ticket-1", "test.ticket", record_id=ticket.id)
    follow(env, ticket, ["bob@client.example"])
    first = message_post(env, ticket, "first", author="someone@else.example", send_now=False)
    second = message_post(env, ticket, "second", author="someone@else.example", parent=first, subject="Re",
                          send_now=False)
    mail = _mails_of(second)[0]
    assert parseaddr(mail.reply_to) == ("Juniper Test Company Short", "ticket-1@example.com")
    assert mail.references == f"{first.message_id} {second.message_id}"
    assert mail.in_reply_to == first.message_id


def test_reply_to_display_name_is_shortened_past_68_characters():
    long_name = "Replacement of the main conveyor belt motor in building seven, north wing"
    header = format_reply_to("Juniper Test Company", long_name, "catchall@example.com")
    assert len(header) <= REPLY_TO_MAX_LENGTH
    assert header.startswith('"Juniper Test Company Replacement of') and header.endswith('..." <catchall@example.com>')
    assert format_reply_to("ACME", "Short", "catchall@example.com") == "ACME Short <catchall@example.com>"
    assert format_reply_to("A" * 80, "Doc", "c@example.com") == "c@example.com"


def test_note_reaches_only_users_and_inbox_users_get_no_email(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    agent = make_user(env, "agent", "agent@example.com")
    inbox_user = make_user(env, "inboxer", "inboxer@example.com", preference="inbox")
    customer = Contact.create(name="Customer", email="customer@client.example")
    follow(env, ticket, [agent, inbox_user, customer])

    note = message_post(env, ticket, "internal", subtype="note", author="boss@example.com", send_now=False)
    by_contact = {n.contact_id: (n.notification_type, n.status) for n in note.notifications}
    assert by_contact == {agent.id: ("email", "ready"), inbox_user.id: ("inbox", "sent")}
    assert [m.email_to for m in _mails_of(note)] == ["Agent <agent@example.com>"]

    comment = message_post(env, ticket, "public", author="boss@example.com", send_now=False)
    assert {n.contact_id for n in comment.notifications} == {agent.id, inbox_user.id, customer.id}


def test_follower_subtypes_and_unfollow(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    follow(env, ticket, ["notes-only@example.com"], subtypes=["note"])
    assert follow(env, ticket, ["notes-only@example.com"]) == 0
    follow(env, ticket, ["all@example.com"])
    message = message_post(env, ticket, "hello", author="x@example.com", send_now=False)
    assert [n.email for n in message.notifications] == ["all@example.com"]
    assert unfollow(env, ticket, ["ALL@example.com"]) == 1
    assert list(message_post(env, ticket, "again", author="x@example.com", send_now=False).notifications) == []
    with pytest.raises(UserError, match="Unknown subtype"):
        follow(env, ticket, ["a@example.com"], subtypes=["gossip"])


def test_posted_body_is_sanitized(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    message = message_post(env, ticket, '<p onclick="steal()">Hi<script>alert(1)</script>'
                                        '<a href="javascript:alert(2)">x</a></p>', author="x@example.com")
    stored = Message.get_by_id(message.id).body_html
    assert "script" not in stored and "onclick" not in stored and "javascript" not in stored
    assert "Hi" in stored


def test_statuses_follow_the_queue_and_red_envelope_resend_ignore(chatter_env, smtp_peer):
    env = chatter_env
    _use_smtp_peer(env, smtp_peer)
    ticket = _ticket(env)
    follow(env, ticket, ["good@client.example", "gone@client.example"])
    smtp_peer.handler.reject_recipient("gone@client.example", "550 5.1.1 No such user")
    message = message_post(env, ticket, "Status update", author="agent@example.com")  # sent after commit
    process_queue(env)
    statuses = {n.email: (n.status, n.failure_type) for n in Notification.select().where(
        Notification.message == message.id)}
    assert statuses["good@client.example"] == ("sent", None)
    assert statuses["gone@client.example"][0] == "exception"
    assert [m.rcpt_tos for m in smtp_peer.messages] == [["good@client.example"]]

    failed = failed_deliveries(message)
    assert [(n.email, n.status) for n in failed] == [("gone@client.example", "exception")]
    assert "5.1.1" in failed[0].failure_reason

    smtp_peer.handler.clear_faults()
    assert resend_failed_deliveries(env, message) == 1
    process_queue(env)
    assert failed_deliveries(message) == []
    assert sorted(r for m in smtp_peer.messages for r in m.rcpt_tos) == ["gone@client.example",
                                                                         "good@client.example"]

    Notification.update(status="bounce", failure_type="mail_bounce").where(
        Notification.email == "gone@client.example").execute()
    assert ignore_failed_deliveries(env, message) == 1
    assert failed_deliveries(message) == []
    assert Notification.get(Notification.email == "gone@client.example").status == "canceled"


def _statements_to_post(env, followers: int) -> int:
    ticket = _ticket(env, f"Fan-out {followers}")
    contacts = [{"name": f"F{i}", "email": f"f{i}-{followers}@client.example", "email_normalized":
                 f"f{i}-{followers}@client.example"} for i in range(followers)]
    Contact.insert_many(contacts).execute()
    follow(env, ticket, list(Contact.select().where(Contact.email.contains(f"-{followers}@"))))
    author = Contact.create(name="Author", email="author@example.com")
    with count_statements() as counter:
        message = message_post(env, ticket, f"<p>Hello {followers}</p>", author=author, send_now=False)
    assert Notification.select().where(Notification.message == message.id).count() == followers
    return len(counter.statements)


def test_fan_out_statement_count_does_not_grow_with_followers(chatter_env):
    env = chatter_env
    few, many = _statements_to_post(env, 10), _statements_to_post(env, 200)
    assert few == many, (few, many)


def test_thread_cli_post_show_follow(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    runner = CliRunner()
    base = ["--db", env.url]
    assert runner.invoke(cli, base + ["thread", "follow", "test.ticket", str(ticket.id),
                                      "--contact", "bob@client.example"]).exit_code == 0
    result = runner.invoke(cli, base + ["thread", "post", "test.ticket", str(ticket.id), "--author",
                                        "stranger@else.example", "--body", "Hello <b>Bob</b>"])
    assert result.exit_code == 0, result.output
    assert "1 follower(s) notified" in result.output
    shown = json.loads(runner.invoke(cli, base + ["thread", "show", "test.ticket", str(ticket.id), "--json"]).output)
    assert shown["messages"][0]["author"] == "stranger@else.example"
    assert shown["messages"][0]["body"] == "Hello <b>Bob</b>"
    assert shown["followers"][0]["email"] == "bob@client.example"
    missing = runner.invoke(cli, base + ["thread", "show", "test.ticket", "999"])
    assert missing.exit_code == 2 and "No test.ticket with id 999" in missing.output
    nothing = runner.invoke(cli, base + ["thread", "ignore", str(shown["messages"][0]["id"])])
    assert nothing.exit_code == 1 and "no failed delivery" in nothing.output


def test_thread_cli_shows_the_failed_delivery_marker_then_resend_and_ignore(chatter_env):
    env = chatter_env
    ticket = _ticket(env)
    follow(env, ticket, [Contact.create(name="Gone Person", email="gone@client.example"), "ok@client.example"])
    message = message_post(env, ticket, "Quote attached", author="agent@example.com", send_now=False)
    Notification.update(status="bounce", failure_type="mail_bounce", failure_reason="550 5.1.1 User unknown").where(
        Notification.email == "gone@client.example").execute()
    runner, base = CliRunner(), ["--db", env.url]

    shown = runner.invoke(cli, base + ["thread", "show", "test.ticket", str(ticket.id)])
    assert "[failed delivery]" in shown.output
    assert "not delivered to Gone Person <gone@client.example>: bounce — 550 5.1.1 User unknown" in shown.output

    resent = runner.invoke(cli, base + ["thread", "resend", str(message.id)])
    assert resent.exit_code == 0 and "1 notification(s) queued again" in resent.output
    gone = Notification.get(Notification.email == "gone@client.example")
    assert gone.status == "ready" and OutgoingMail.get_by_id(gone.mail_id).email_to == "Gone Person <gone@client.example>"

    Notification.update(status="exception", failure_reason="refused").where(Notification.id == gone.id).execute()
    ignored = runner.invoke(cli, base + ["thread", "ignore", message.message_id])
    assert ignored.exit_code == 0 and "1 failed notification(s) canceled" in ignored.output
    assert "[failed delivery]" not in runner.invoke(cli, base + ["thread", "show", "test.ticket", str(ticket.id)]).output
