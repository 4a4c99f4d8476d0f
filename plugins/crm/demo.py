"""`juniper demo`: a guided tour of company email, on a throwaway database and a local SMTP server.

Everything happens in a temporary directory (SQLite database) and on 127.0.0.1: an aiosmtpd server
started here records what Juniper sends. Incoming mail (a reply, a bounce) is handed to the gateway
through the same hook the mail pipe and fetchmail use. Nothing is left behind.
"""
import contextlib
import email
import email.policy
import logging
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import click

ALIAS_DOMAIN = "mycompany.example"
COMPANY = "My Company"


@dataclass(frozen=True)
class ReceivedMail:
    """One message the demo SMTP server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list
    message: EmailMessage


class RecordingHandler:
    """aiosmtpd handler that accepts every message and keeps it (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._lock:
            self._received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK queued"

    def take(self) -> list[ReceivedMail]:
        """The messages received since the last call."""
        with self._lock:
            received, self._received = self._received, []
        return received


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_smtp_server():
    """An aiosmtpd server on 127.0.0.1 (a free port); yields ``(port, handler)`` and stops it after."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_loopback_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


# -- what the outside world sends --------------------------------------------------------------

def follower_reply(notification: EmailMessage, author: str, text: str) -> bytes:
    """The raw reply a follower's mail client sends to a notification (to its Reply-To, threaded)."""
    reply = EmailMessage()
    reply["From"] = author
    reply["To"] = notification["Reply-To"] or notification["From"]
    reply["Subject"] = f"Re: {notification['Subject']}"
    reply["Message-Id"] = make_msgid(domain=parseaddr(author)[1].partition("@")[2] or None)
    reply["In-Reply-To"] = notification["Message-Id"]
    reply["References"] = " ".join(filter(None, [notification["References"], notification["Message-Id"]]))
    reply.set_content(text)
    return reply.as_bytes()


def delivery_status_notification(failed: "ReceivedMail", recipient: str, reporting_mta: str) -> bytes:
    """The DSN (RFC 3464) a receiving server sends back to the envelope sender of ``failed`` when the
    mailbox ``recipient`` does not exist (5.1.1), with the headers of the failed mail attached."""
    boundary = f"dsn-{secrets.token_hex(8)}"
    original_headers = "".join(f"{name}: {value}\r\n" for name, value in failed.message.items())
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
        f"To: {failed.mail_from}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-Id: {make_msgid(domain=reporting_mta)}\r\n"
        f"Date: {formatdate()}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"Your message could not be delivered to {recipient}: the mailbox does not exist.\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\n"
        f"Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"{original_headers}\r\n"
        f"--{boundary}--\r\n"
    )
    return text.encode("utf-8")


def new_prospect_email(sender: str, subject: str, text: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"sales@{ALIAS_DOMAIN}"
    message["Subject"] = subject
    message["Message-Id"] = make_msgid(domain=parseaddr(sender)[1].partition("@")[2])
    message.set_content(text)
    return message.as_bytes()


# -- printing ---------------------------------------------------------------------------------------

class Steps:
    def __init__(self, total: int):
        self.total, self.number = total, 0

    def __call__(self, title: str, explanation: str = "") -> None:
        self.number += 1
        click.echo("")
        click.secho(f"== Step {self.number}/{self.total}: {title} ==", bold=True)
        if explanation:
            click.echo(explanation)


def show_received(mails: list[ReceivedMail]) -> None:
    if not mails:
        click.echo("  (the SMTP server received nothing)")
    for number, received in enumerate(mails, 1):
        message = received.message
        click.echo(f"  Mail {number}  (envelope: MAIL FROM <{received.mail_from}>)")
        for header in ("From", "To", "Reply-To", "Subject", "Message-Id", "In-Reply-To"):
            if message[header]:
                click.echo(f"    {header + ':':<12} {message[header]}")


def show_result(result: dict | None) -> None:
    result = dict(result or {})
    parts = [f"route={result.get('route')}"]
    if result.get("model"):
        parts.append(f"document={result['model']} #{result.get('res_id')}")
    for recipient in (result.get("bounce") or {}).get("recipients", []):
        parts.append(f"bounced={recipient['email']} ({recipient['kind']}, {recipient['status']})")
    click.echo("  Gateway: " + ", ".join(parts))


# -- the tour ----------------------------------------------------------------------------------------

def hand_to_gateway(env, raw: bytes) -> dict | None:
    """Give ``raw`` to the mail gateway in a transaction, as the mail pipe does."""
    with env.atomic():
        return env.pm.hook.process_incoming_message(env=env, raw=raw, server=None)


def drain_queue(env) -> None:
    from addons_mail.mail_server.api import process_queue

    process_queue(env)


def _mail_to(mails: list[ReceivedMail], address: str) -> ReceivedMail:
    for received in mails:
        if address in received.rcpt_tos:
            return received
    raise click.ClickException(f"The SMTP server received no notification for {address}; the demo cannot go on "
                               f"(run it with -v to see the queue's log).")


def run_tour(database: Path) -> int:
    """Run every step on the SQLite file ``database``; return the lead's id."""
    from addons_mail.chatter.thread import find_or_create_contact, message_post
    from addons_mail.mail_server.servers import create_server
    from kernel.env import open_environment
    from kernel.installer import install_addons
    from plugins.crm.models import create_lead

    step = Steps(7)
    step("a temporary database", f"  {database}")
    env = open_environment(str(database))
    try:
        env.ensure_initialized(COMPANY, f"admin@{ALIAS_DOMAIN}")
        installed = install_addons(env, ["crm"])
        env.params.set("mail.catchall.domain", ALIAS_DOMAIN)
        click.echo(f"  Installed: {', '.join(installed)}")
        click.echo(f"  Alias domain: {ALIAS_DOMAIN} (replies go to catchall@, bounces to bounce@, "
                   f"new leads come from sales@)")

        with local_smtp_server() as (port, smtp):
            step("a local SMTP server", f"  aiosmtpd listening on 127.0.0.1:{port}, configured as the "
                                       f"outgoing server for {ALIAS_DOMAIN}")
            create_server(env, "demo SMTP server", host="127.0.0.1", port=port, encryption="none",
                          from_filter=ALIAS_DOMAIN)

            step("a lead with three followers")
            bob = find_or_create_contact(env, f"bob@{ALIAS_DOMAIN}", "Bob Seller")
            alice = find_or_create_contact(env, "alice@customer.example", "Alice Buyer")
            dave = find_or_create_contact(env, "dave@old-partner.example", "Dave Partner")
            lead = create_lead(env, "40 office chairs", followers=[bob, alice, dave])
            click.echo(f"  Lead #{lead.id}: {lead.name}")
            click.echo(f"  Followers: {bob.formatted_email}, {alice.formatted_email}, {dave.formatted_email}")

            step("Bob posts on the lead",
                 "  Every follower except the author gets a notification mail; the queue sends them.")
            message_post(env, lead, "We can deliver the 40 chairs next Tuesday.", author=bob, body_is_text=True)
            drain_queue(env)
            notifications = smtp.take()
            show_received(notifications)

            step("Alice replies, Dave's mailbox bounces",
                 "  Both arrive through the mail gateway (the hook the pipe and fetchmail use).")
            to_alice = _mail_to(notifications, alice.email)
            to_dave = _mail_to(notifications, dave.email)
            click.echo("  Alice's reply (In-Reply-To the notification she received):")
            show_result(hand_to_gateway(env, follower_reply(
                to_alice.message, alice.formatted_email, "Tuesday is perfect, thank you!")))
            click.echo(f"  A delivery status notification from old-partner.example, sent to "
                       f"<{to_dave.mail_from}>:")
            show_result(hand_to_gateway(env, delivery_status_notification(
                to_dave, "dave@old-partner.example", "mx.old-partner.example")))

            step("the queue relays Alice's reply",
                 "  The other followers (Bob and Dave) get it; Alice, the author, does not.")
            drain_queue(env)
            show_received(smtp.take())

            step("a new email to sales@ creates a lead")
            show_result(hand_to_gateway(env, new_prospect_email(
                "Erin Prospect <erin@prospect.example>", "Quote for 12 standing desks",
                "Hello, could you send us a quote for 12 standing desks?")))
        return lead.id
    finally:
        env.close()


@click.command("demo")
def demo():
    """A guided tour in a temporary database: notifications, a reply, a bounce, the thread.

    Starts its own SMTP server on 127.0.0.1 and removes everything when it ends; touches no other
    database.
    """
    started = time.perf_counter()
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="juniper-demo-") as directory:
        database = Path(directory) / "demo.db"
        lead_id = run_tour(database)
        click.echo("")
        click.secho(f"== The thread of the lead: juniper thread show crm.lead {lead_id} ==", bold=True)
        root = click.get_current_context().find_root().command
        root.main(args=["--db", str(database), "thread", "show", "crm.lead", str(lead_id)],
                  prog_name="juniper", standalone_mode=False)
    click.echo("")
    click.echo(f"Done in {time.perf_counter() - started:.1f} s; the temporary database and the SMTP server "
               f"are gone. Try it on your own database: juniper init --install crm")
