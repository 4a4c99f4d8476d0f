"""End to end, with real peers: a lead's notifications leave through aiosmtpd, a follower's reply
comes back through a Dovecot mailbox fetched over IMAPS, a new email to sales@ creates a lead, and a
DSN marks the failed delivery that `juniper thread show` displays.

Each step uses only what an administrator or a third-party plugin uses: the crm plugin, the
chatter's thread API, fetchmail's incoming server records and fetch, the mail pipe command.
"""
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid

import pytest
from click.testing import CliRunner

from kernel.cli import cli

DOMAIN = "mycompany.example"


@pytest.fixture
def juniper(env):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--db", env.url, *args], input=input, catch_exceptions=False)

    return run


@pytest.fixture
def company_mail(env, install, smtp_peer):
    """crm installed, the alias domain set, the aiosmtpd peer as the outgoing server of the domain."""
    from addons_mail.mail_server.servers import create_server

    install(env, "crm")
    env.params.set("mail.catchall.domain", DOMAIN)
    create_server(env, "loopback", host=smtp_peer.host, port=smtp_peer.port, encryption="none", from_filter=DOMAIN)
    return env


@pytest.fixture
def catchall_mailbox(env, company_mail, dovecot, dovecot_user, tls_ca_pem):
    """A confirmed IMAPS incoming server reading the Dovecot mailbox that receives catchall@ and sales@."""
    from addons_mail.fetchmail.servers import create_incoming_server, test_and_confirm

    user, password = dovecot_user
    server = create_incoming_server(env, "catchall mailbox", server_type="imap", host=dovecot.host,
                                    port=dovecot.ports["imaps"], ssl=True, user=user, password=password,
                                    ca_file=tls_ca_pem)
    test_and_confirm(env, server)
    return server, user


def _reply_to(notification: EmailMessage, author: str, text: str) -> bytes:
    """What a mail client sends when a follower answers a notification."""
    reply = EmailMessage()
    reply["From"] = author
    reply["To"] = notification["Reply-To"]
    reply["Subject"] = f"Re: {notification['Subject']}"
    reply["Message-Id"] = make_msgid(domain="customer.example")
    reply["In-Reply-To"] = notification["Message-Id"]
    reply["References"] = notification["References"]
    reply.set_content(text)
    return reply.as_bytes()


def _new_email(sender: str, to: str, subject: str, text: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-Id"] = make_msgid(domain="prospect.example")
    message.set_content(text)
    return message.as_bytes()


def _dsn(failed_envelope_sender: str, failed_headers: EmailMessage, recipient: str) -> bytes:
    """A Postfix-style RFC 3464 report for ``recipient``, sent to the envelope sender of the failed mail."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in failed_headers.items())
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.old-partner.example>\r\n"
        f"To: {failed_envelope_sender}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-Id: <dsn-1@mx.old-partner.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.old-partner.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n"
        "--b1--\r\n"
    ).encode()


def _addresses(received) -> set[str]:
    return {address.lower() for address in received.rcpt_tos}


def test_a_lead_thread_round_trip_with_real_peers(env, company_mail, catchall_mailbox, smtp_peer, dovecot,
                                                   juniper):
    from addons_mail.chatter.thread import find_or_create_contact, message_post, messages_of
    from addons_mail.fetchmail.fetch import fetch_all
    from addons_mail.mail_server.api import process_queue
    from plugins.crm.models import Lead, create_lead

    server, mailbox_user = catchall_mailbox
    bob = find_or_create_contact(env, f"bob@{DOMAIN}", "Bob Seller")
    alice = find_or_create_contact(env, "alice@customer.example", "Alice Buyer")
    dave = find_or_create_contact(env, "dave@old-partner.example", "Dave Partner")
    lead = create_lead(env, "40 office chairs", followers=[bob, alice, dave])

    # 1. Bob posts: Alice and Dave get one notification each, Bob (the author) none.
    post = message_post(env, lead, "We can deliver next Tuesday.", author=bob, body_is_text=True)
    process_queue(env)
    notifications = smtp_peer.wait_for(2, timeout=10)
    assert sorted(address for mail in notifications for address in _addresses(mail)) == [
        "alice@customer.example", "dave@old-partner.example"]
    for received in notifications:
        message = received.message
        assert getaddresses([message["From"]]) == [("Bob Seller", f"bob@{DOMAIN}")]
        assert getaddresses([message["Reply-To"]]) == [(f"Test Company {lead.name}", f"catchall@{DOMAIN}")]
        assert message["Message-Id"] == post.message_id
        assert f"-juniper-{lead.id}-crm.lead@" in message["Message-Id"]
        assert post.message_id in message["References"].split()
        assert message["X-Juniper-Objects"] == f"crm.lead-{lead.id}"
        assert message["Subject"] == lead.name
        assert received.mail_from.startswith("bounce") and received.mail_from.endswith(f"@{DOMAIN}")
    to_alice = next(m for m in notifications if "alice@customer.example" in _addresses(m))
    to_dave = next(m for m in notifications if "dave@old-partner.example" in _addresses(m))

    # 2. Alice's reply lands in the catchall mailbox, is fetched over IMAPS, posted and relayed.
    smtp_peer.forget_messages()
    dovecot.append(mailbox_user, _reply_to(to_alice.message, alice.formatted_email, "Tuesday is perfect."))
    runs = fetch_all(env)
    assert [(run.fetched, run.stored, run.error) for run in runs] == [(1, 1, None)]
    reply = messages_of(lead)[-1]
    assert reply.author_id == alice.id
    assert "Tuesday is perfect." in reply.body_html
    assert reply.parent_id == post.id
    process_queue(env)
    relayed = smtp_peer.wait_for(2, timeout=10)
    assert sorted(address for mail in relayed for address in _addresses(mail)) == [
        f"bob@{DOMAIN}", "dave@old-partner.example"]
    for received in relayed:
        name, address = getaddresses([received.message["From"]])[0]
        assert name == "Alice Buyer" and address.endswith(f"@{DOMAIN}")  # encapsulated: not alice's domain
        assert received.message["In-Reply-To"] == post.message_id
        assert reply.message_id in received.message["References"].split()

    # 3. A new email to sales@ creates a lead.
    dovecot.append(mailbox_user, _new_email("Erin Prospect <erin@prospect.example>", f"sales@{DOMAIN}",
                                            "Quote for 12 standing desks", "Could you send us a quote?"))
    assert [(run.fetched, run.stored) for run in fetch_all(env)] == [(1, 1)]
    created = Lead.get(Lead.name == "Quote for 12 standing desks")
    assert (created.email_from, created.contact.name) == ("erin@prospect.example", "Erin Prospect")
    assert created.description == "Could you send us a quote?"
    assert len(dovecot.messages(mailbox_user)) == 2

    # 4. Dave's server bounces the first notification: the pipe takes the DSN, the notification is
    #    marked bounced and `thread show` shows the failed-delivery marker on Bob's message.
    dsn = _dsn(to_dave.mail_from, to_dave.message, "dave@old-partner.example")
    result = juniper("mail", "gateway", "process", "--json", input=dsn)
    assert result.exit_code == 0, result.output
    assert '"route": "bounce"' in result.output
    statuses = {n.contact.email: n.status for n in post.notifications}
    assert statuses == {"alice@customer.example": "sent", "dave@old-partner.example": "bounce"}
    shown = juniper("thread", "show", "crm.lead", str(lead.id))
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("[failed delivery]") == 1
    marked = [block for block in shown.output.split("\n\n") if "[failed delivery]" in block]
    assert "Bob Seller" in marked[0]
    assert "not delivered to Dave Partner <dave@old-partner.example>: bounce" in marked[0]
