"""Sending a mailing: the dedicated server, headers, traces, skipped recipients, pause/resume/retry."""
import datetime
import re

from addons_mail.chatter.thread import follow, message_post
from addons_mail.mail_server.api import process_queue
from addons_mail.mass_mailing.blacklist import add_to_blacklist
from addons_mail.mass_mailing.mailings import create_mailing, get_mailing, mailing_status, pause_mailing, resume_mailing
from addons_mail.mass_mailing.models import MailingList, MailingListMember, MailingTrace
from addons_mail.mass_mailing.recipients import add_list_members
from addons_mail.mass_mailing.sending import retry_failed_recipients, send_mailing
from addons_mail.mass_mailing.unsubscribe_tokens import read_unsubscribe_token
from kernel.models import Contact
from tests.mass_mailing.conftest import BODY, add_contacts
from tests.mass_mailing.dsn import deliver_to_gateway, make_dsn


def traces_by_email(mailing):
    return {t.email: t for t in MailingTrace.select().where(MailingTrace.mailing == mailing.id)}


def recipients_of(peer):
    return sorted(address for received in peer.messages for address in received.rcpt_tos)


def test_mailing_uses_the_dedicated_server_while_a_notification_uses_the_transactional_one(
        mailing_env, install, servers):
    install(mailing_env, "crm")
    lead_model = mailing_env["crm.lead"]
    add_contacts([("Ada Lovelace", "ada@customer.example"), ("Bob", "bob@customer.example"),
                  ("Cy", "cy@customer.example")])
    lead = lead_model.create(name="Big deal", created_at=mailing_env.clock.now())
    follow(mailing_env, lead, ["client@customer.example"])
    mailing = create_mailing(mailing_env, subject="Spring news", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~@customer.example name~a")
    with mailing_env.atomic():
        message_post(mailing_env, lead, "Your quote is ready", author=mailing_env.user.contact, send_now=False)
    report = send_mailing(mailing_env, mailing.id)
    process_queue(mailing_env)

    assert recipients_of(servers["marketing"]) == ["ada@customer.example"]
    assert recipients_of(servers["transactional"]) == ["client@customer.example"]
    assert report.queued == 1 and report.state == "done"  # the queue was run until the mailing's mails left
    assert traces_by_email(mailing)["ada@customer.example"].state == "sent"


def test_each_recipient_gets_unsubscribe_headers_a_footer_and_bulk_precedence(mailing_env, servers):
    ada, bob = add_contacts([("Ada Lovelace", "ada@customer.example"), ("Bob", "bob@customer.example")])
    mailing = create_mailing(mailing_env, subject="Spring news", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    send_mailing(mailing_env, mailing.id)
    received = {r.rcpt_tos[0]: r.message for r in servers["marketing"].wait_for(2)}
    tokens = set()
    for contact in (ada, bob):
        message = received[contact.email]
        header = str(message["List-Unsubscribe"])
        mailto = re.search(r"<mailto:unsubscribe\+([^@>]+)@example\.com>", header)
        https = re.search(r"<https://news\.example\.com/mail/unsubscribe/([^>]+)>", header)
        assert mailto and https and mailto[1] == https[1]
        assert read_unsubscribe_token(mailing_env, https[1]) == (mailing.id, contact.id)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Precedence"] == "bulk"
        html = message.get_body(("html",)).get_content()
        assert f"Hello {contact.name.split()[0]}," in html
        assert f"https://news.example.com/mail/unsubscribe/{https[1]}" in html  # the footer link
        tokens.add(https[1])
    assert len(tokens) == 2
    assert mailing_status(mailing.id)["traces"]["sent"] == 2


def test_blacklisted_opted_out_duplicate_and_addressless_recipients_are_skipped_with_a_reason(mailing_env, servers):
    contacts = add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example"),
                             ("Cy", "cy@customer.example"), ("Ada again", "ADA@customer.example"),
                             ("Dee", "dee@customer.example")])
    nobody = Contact.create(name="No Email")
    news = MailingList.create(name="News")
    add_list_members(news, "email~customer.example")
    MailingListMember.create(mailing_list=news, contact=nobody)
    add_to_blacklist(mailing_env, "bob@customer.example", "complained")
    MailingListMember.update(opt_out=True).where(MailingListMember.contact == contacts[2].id).execute()
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             list_name="News")
    send_mailing(mailing_env, mailing.id, batch_size=2)

    assert recipients_of(servers["marketing"]) == ["ada@customer.example", "dee@customer.example"]
    traces = list(MailingTrace.select().where(MailingTrace.mailing == mailing.id).order_by(MailingTrace.contact))
    by_contact = {t.contact_id: (t.state, t.failure_type) for t in traces}
    assert by_contact == {
        contacts[0].id: ("sent", None), contacts[1].id: ("cancel", "mail_bl"),
        contacts[2].id: ("cancel", "mail_optout"), contacts[3].id: ("cancel", "mail_dup"),
        contacts[4].id: ("sent", None), nobody.id: ("cancel", "mail_email_missing"),
    }
    status = mailing_status(mailing.id)
    assert status["state"] == "done"
    assert status["failures"] == {"mail_bl": 1, "mail_optout": 1, "mail_dup": 1, "mail_email_missing": 1}


def test_dsn_bounces_of_mailing_mails_through_the_gateway_set_traces_to_bounce(mailing_env, servers):
    add_contacts([("Ada", "ada@customer.example"), ("Gone", "gone@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    send_mailing(mailing_env, mailing.id)
    sent = {r.rcpt_tos[0]: r for r in servers["marketing"].wait_for(2)}
    bounced = sent["gone@customer.example"]
    assert bounced.mail_from.startswith("bounce+") and bounced.mail_from.endswith("@example.com")
    result = deliver_to_gateway(mailing_env, make_dsn(
        to=bounced.mail_from, failed="gone@customer.example", status="5.1.1",
        message_id=str(bounced.message["Message-Id"])))
    assert result["route"] == "bounce"
    traces = traces_by_email(mailing)
    assert traces["gone@customer.example"].state == "bounce"
    assert traces["gone@customer.example"].failure_type == "mail_bounce"
    assert "5.1.1" in traces["gone@customer.example"].failure_reason
    assert traces["ada@customer.example"].state == "sent"


def test_a_dsn_without_verp_tag_finds_the_trace_by_message_id(mailing_env, servers):
    add_contacts([("Gone", "gone@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    send_mailing(mailing_env, mailing.id)
    (sent,) = servers["marketing"].wait_for(1)
    deliver_to_gateway(mailing_env, make_dsn(to="bounce@example.com", failed="gone@customer.example",
                                             status="5.1.1", message_id=str(sent.message["Message-Id"])))
    assert traces_by_email(mailing)["gone@customer.example"].state == "bounce"


def test_pause_stops_after_the_batch_and_resume_continues_without_sending_twice(mailing_env, servers):
    add_contacts([(f"Reader {n}", f"reader{n}@customer.example") for n in range(7)])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~reader")
    report = send_mailing(mailing_env, mailing.id, batch_size=3,
                          on_batch=lambda count: pause_mailing(mailing_env, mailing.id))
    assert report.state == "paused" and report.queued == 3
    assert get_mailing(mailing.id).state == "paused"
    assert len(servers["marketing"].wait_for(3)) == 3

    resume_mailing(mailing_env, mailing.id)
    report = send_mailing(mailing_env, mailing.id, batch_size=3)
    assert report.state == "done" and report.queued == 4
    assert recipients_of(servers["marketing"]) == sorted(f"reader{n}@customer.example" for n in range(7))


def test_retry_failed_queues_only_the_failed_recipients(mailing_env, servers):
    add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example"), ("Cy", "cy@customer.example")])
    peer = servers["marketing"]
    peer.reject_recipient("bob@customer.example", "550 5.7.1 Relaying temporarily denied")
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    send_mailing(mailing_env, mailing.id)
    traces = traces_by_email(mailing)
    assert traces["bob@customer.example"].state == "error"
    assert "550" in traces["bob@customer.example"].failure_reason
    assert get_mailing(mailing.id).state == "done"  # every recipient has a final trace saying why

    peer.clear_faults()
    peer.forget_messages()
    assert retry_failed_recipients(mailing_env, mailing.id) == 1
    assert recipients_of(peer) == ["bob@customer.example"]
    assert traces_by_email(mailing)["bob@customer.example"].state == "sent"
    assert get_mailing(mailing.id).state == "done"
    assert retry_failed_recipients(mailing_env, mailing.id) == 0


def test_a_mailing_is_not_done_while_a_mail_waits_for_a_retry(mailing_env, servers):
    add_contacts([("Ada", "ada@customer.example")])
    servers["marketing"].fail_next(1, "451 4.3.0 Try again later")
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    report = send_mailing(mailing_env, mailing.id)
    assert report.state == "sending"
    assert traces_by_email(mailing)["ada@customer.example"].state == "outgoing"
    mailing_env.clock.advance(minutes=2)
    process_queue(mailing_env)
    assert traces_by_email(mailing)["ada@customer.example"].state == "sent"
    assert get_mailing(mailing.id).state == "done"


def test_the_send_command_shows_progress_and_ends_done(mailing_env, db_url, servers, tmp_path):
    import json

    from click.testing import CliRunner

    from kernel.cli import cli

    add_contacts([(f"Reader {n}", f"reader{n}@customer.example") for n in range(5)])
    body = tmp_path / "body.html"
    body.write_text(BODY)
    runner = CliRunner()
    run = lambda *args: runner.invoke(cli, ["--db", db_url, *args], catch_exceptions=False)  # noqa: E731
    assert run("mailing", "create", "--subject", "News", "--from", "news@example.com", "--body-file", str(body),
               "--contacts", "email~reader").exit_code == 0
    result = run("mailing", "send", "1", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "Mailing 1: 5 queued, 0 skipped" in result.stdout and "now done" in result.stdout
    assert "Mailing 1" in result.stderr  # the progress bar
    status = json.loads(run("mailing", "status", "1", "--json").stdout)
    assert status["state"] == "done" and status["traces"]["sent"] == 5
    assert len(servers["marketing"].messages) == 5


def test_a_mail_cancelled_in_the_queue_ends_its_trace_and_the_worker_finishes_the_mailing(mailing_env, servers):
    from addons_mail.mass_mailing.scheduled import send_due_mailings

    add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example", scheduled_at=mailing_env.clock.now())
    send_mailing(mailing_env, mailing.id, drive_queue=False)
    mail_model = mailing_env["mail.mail"]
    bob_mail = traces_by_email(mailing)["bob@customer.example"].mail_id
    mail_model.update(state="cancel").where(mail_model.id == bob_mail).execute()
    process_queue(mailing_env)
    assert get_mailing(mailing.id).state == "sending"  # Bob's trace is still outgoing
    send_due_mailings(mailing_env)
    traces = traces_by_email(mailing)
    assert traces["ada@customer.example"].state == "sent"
    assert traces["bob@customer.example"].state == "error"
    assert "cancel" in traces["bob@customer.example"].failure_reason
    assert get_mailing(mailing.id).state == "done"


def test_a_scheduled_mailing_waits_for_its_date(mailing_env, servers):
    from addons_mail.mass_mailing.scheduled import send_due_mailings

    add_contacts([("Ada", "ada@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example",
                             scheduled_at=mailing_env.clock.now() + datetime.timedelta(hours=1))
    assert send_mailing(mailing_env, mailing.id).state == "queued"
    send_due_mailings(mailing_env)
    assert servers["marketing"].messages == []
    mailing_env.clock.advance(hours=2)
    send_due_mailings(mailing_env)
    assert recipients_of(servers["marketing"]) == ["ada@customer.example"]
    assert get_mailing(mailing.id).state == "done"
