"""Test Connection (SPEC §2.1): a full SMTP dialogue up to DATA, aborted before anything is sent."""
import smtplib
from dataclasses import dataclass

from addons_mail.mail_server.addresses import default_from_address, envelope_address, parse_from_filter
from addons_mail.mail_server.addresses import matches_from_filter
from addons_mail.mail_server.models import MailServer
from addons_mail.mail_server.smtp_connection import describe_failure, open_smtp_session

SUCCESS = "Connection Test Successful!"


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    message: str
    sender: str
    recipient: str


def connection_test_sender(env, server: MailServer) -> str:
    """First full address of the filter; else the default From if it matches; else noreply@<first domain>;
    with no filter, the current user's email."""
    parts = parse_from_filter(server.from_filter)
    addresses = [part for part in parts if "@" in part]
    if addresses:
        return addresses[0]
    default_from = default_from_address(env)
    if parts:
        if default_from and matches_from_filter(default_from, server.from_filter):
            return default_from
        return f"noreply@{parts[0]}"
    user = env.user
    if user is not None and user.contact.email:
        return user.contact.email
    return default_from or "noreply@localhost"


def run_connection_test(env, server: MailServer, recipient: str | None = None) -> ConnectionTestResult:
    """Connect, log in, MAIL FROM, RCPT TO, DATA (expects 250 / 250-251 / 354), then abort and quit."""
    sender = connection_test_sender(env, server)
    recipient = recipient or sender
    session = None
    try:
        session = open_smtp_session(server)
        code, reply = session.mail(envelope_address(sender))
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = session.rcpt(envelope_address(recipient))
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        session.putcmd("data")
        code, reply = session.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
    except Exception as exc:  # every failure becomes a sentence of the table
        if session is not None:
            session.close()
        return ConnectionTestResult(False, describe_failure(exc, server), sender, recipient)
    # Closing inside DATA, without the final dot, makes the server drop the transaction: nothing is sent.
    session.close()
    return ConnectionTestResult(True, SUCCESS, sender, recipient)
