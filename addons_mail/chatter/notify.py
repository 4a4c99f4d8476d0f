"""Notifying followers of a message, and keeping notification statuses in step with the queue.

Fan-out is batched: one query reads the followers (with their users' preferences), one call to
``queue_mails`` queues every email notification, one INSERT stores every notification. The number
of SQL statements to post does not depend on the number of followers (up to ``INSERT_CHUNK``
notifications per INSERT).
"""
from __future__ import annotations

from email.utils import formataddr

import peewee

from kernel.errors import UserError
from kernel.models import Contact, User, normalize_email

from addons_mail.chatter.models import FAILED_STATUSES, Alias, Follower, Message, Notification

__all__ = [
    "REPLY_TO_MAX_LENGTH",
    "document_reply_to",
    "failed_deliveries",
    "ignore_failed_deliveries",
    "mark_notifications_failed",
    "mark_notifications_sent",
    "notify_followers",
    "resend_failed_deliveries",
]

REPLY_TO_MAX_LENGTH = 68
INSERT_CHUNK = 2000
ORIGIN = "chatter"


# -- headers -------------------------------------------------------------------------------------

def _document_alias_address(env, record) -> str | None:
    alias = (Alias.select().where((Alias.model == record.model_name) & (Alias.record_id == record.id)
                                  & (Alias.status != "invalid")).order_by(Alias.id).first())
    if alias is None:
        return None
    domain = alias.domain or env.params.get("mail.catchall.domain")
    return f"{alias.name}@{domain}" if domain else None


def format_reply_to(company_name: str, document_name: str, address: str) -> str:
    """``"<Company> <Document>" <address>``, the document name shortened (then dropped, then the
    company) until the header fits in :data:`REPLY_TO_MAX_LENGTH` characters."""
    if len(address) + 2 >= REPLY_TO_MAX_LENGTH:
        return address
    company_name, document_name = company_name.strip(), " ".join(document_name.split())
    full = formataddr((f"{company_name} {document_name}".strip(), address))
    if len(full) <= REPLY_TO_MAX_LENGTH:
        return full
    for cut in range(len(document_name) - 1, 0, -1):
        shortened = formataddr((f"{company_name} {document_name[:cut].rstrip()}...".strip(), address))
        if len(shortened) <= REPLY_TO_MAX_LENGTH:
            return shortened
    if company_name and len(formataddr((company_name, address))) <= REPLY_TO_MAX_LENGTH:
        return formataddr((company_name, address))
    return address


def document_reply_to(env, record, author_email: str | None) -> str | None:
    """Reply-To of a notification about ``record`` (SPEC §2.3): the document's own alias, else the
    catchall, else the author; with the display name ``"<Company> <Document>"``."""
    from addons_mail.mail_server.api import catchall_address

    address = _document_alias_address(env, record) or catchall_address(env)
    if address is None:
        return author_email
    company = env.company
    return format_reply_to(company.name if company else "", record.thread_display_name(), address)


# -- fan-out -------------------------------------------------------------------------------------

def _recipients(message: Message, record) -> list[dict]:
    """Followers to notify of ``message``: subscribed to its subtype, not the author; notes reach users only."""
    rows = (Follower.select(Follower.subtypes, Contact.id.alias("contact_id"), Contact.name, Contact.email,
                            Contact.email_normalized, User.id.alias("user_id"), User.notification_preference)
            .join(Contact, on=(Follower.contact == Contact.id))
            .join(User, peewee.JOIN.LEFT_OUTER, on=((User.contact == Contact.id) & (User.active == True)))  # noqa: E712
            .where((Follower.model == record.model_name) & (Follower.res_id == record.id))
            .order_by(Follower.id).dicts())
    author_email = normalize_email(message.author_email)
    chosen: dict[int, dict] = {}
    for row in rows:
        contact_id = row["contact_id"]
        if contact_id == message.author_id or (author_email and row["email_normalized"] == author_email):
            continue
        if message.subtype not in (row["subtypes"] or []):
            continue
        if message.subtype == "note" and row["user_id"] is None:
            continue
        previous = chosen.get(contact_id)
        if previous is None or (previous["user_id"] is None and row["user_id"] is not None):
            chosen[contact_id] = row
    return list(chosen.values())


def _author_from_header(env, message: Message) -> str:
    from addons_mail.mail_server.api import default_from_address

    if message.author_email:
        name = message.author.name if message.author_id else message.author_name
        return formataddr((name or "", message.author_email)) if name else message.author_email
    return default_from_address(env) or ""


def _attachments_of(message: Message) -> list[tuple[str, bytes, str]]:
    from addons_mail.chatter.models import MessageAttachment

    return [(a.filename, bytes(a.content), a.mimetype)
            for a in MessageAttachment.select().where(MessageAttachment.message == message.id).order_by(MessageAttachment.id)]


def notify_followers(env, message: Message, record, *, send_now: bool = True) -> list[Notification]:
    """Create the notifications of ``message`` and queue its emails (one batch); return the notification rows.

    Users who chose ``inbox`` get an inbox notification (status ``sent``); a follower without an
    email gets an ``exception`` / ``mail_email_missing`` notification at once.
    """
    from addons_mail.mail_server.api import queue_mails

    recipients = _recipients(message, record)
    if not recipients:
        return []
    parent_id = message.parent.message_id if message.parent_id else None
    subject = message.subject or record.thread_display_name()
    headers = {"X-Juniper-Objects": f"{record.model_name}-{record.id}"}
    email_from = reply_to = attachments = None
    mail_rows, rows_needing_mail, notification_rows = [], [], []
    for row in recipients:
        notification = {"message": message.id, "contact": row["contact_id"], "email": row["email"],
                        "notification_type": "email", "status": "ready"}
        if row["user_id"] is not None and row["notification_preference"] == "inbox":
            notification.update(notification_type="inbox", status="sent", email=None)
        elif not row["email"]:
            notification.update(status="exception", failure_type="mail_email_missing",
                                failure_reason="The contact has no email address.")
        else:
            if email_from is None:
                email_from = _author_from_header(env, message)
                reply_to = document_reply_to(env, record, message.author_email)
                attachments = _attachments_of(message)
            mail_rows.append({
                "email_from": email_from, "email_to": formataddr((row["name"] or "", row["email"])),
                "subject": subject, "body_html": message.body_html, "reply_to": reply_to,
                "headers": headers, "message_id": message.message_id,
                "references": f"{parent_id} {message.message_id}" if parent_id else message.message_id,
                "in_reply_to": parent_id, "origin": ORIGIN, "send_now": send_now, "attachments": attachments,
            })
            rows_needing_mail.append(notification)
        notification_rows.append(notification)
    if mail_rows:
        for notification, mail_id in zip(rows_needing_mail, queue_mails(env, mail_rows)):
            notification["mail_id"] = mail_id
    _insert_notifications(notification_rows)
    return notification_rows


def _insert_notifications(rows: list[dict]) -> None:
    columns = ("message", "contact", "email", "notification_type", "status", "failure_type",
               "failure_reason", "mail_id")
    full_rows = [{column: row.get(column) for column in columns} for row in rows]
    for start in range(0, len(full_rows), INSERT_CHUNK):
        Notification.insert_many(full_rows[start:start + INSERT_CHUNK]).execute()


# -- statuses from the queue ---------------------------------------------------------------------

def mark_notifications_sent(mail_ids: list[int]) -> int:
    """``ready`` notifications of these outgoing mails become ``sent`` (one UPDATE)."""
    if not mail_ids:
        return 0
    return (Notification.update(status="sent", failure_type=None, failure_reason=None)
            .where(Notification.mail_id.in_(mail_ids) & (Notification.status == "ready")).execute())


def mark_notifications_failed(mail_ids: list[int], failure_type: str | None, reason: str | None) -> int:
    """Notifications of these outgoing mails become ``exception`` with the failure (one UPDATE)."""
    if not mail_ids:
        return 0
    return (Notification.update(status="exception", failure_type=failure_type or "unknown",
                                failure_reason=reason)
            .where(Notification.mail_id.in_(mail_ids) & Notification.status.in_(("ready", "sent"))).execute())


# -- the failed-delivery marker ("red envelope") ---------------------------------------------------

def failed_deliveries(message: Message) -> list[Notification]:
    """The notifications of ``message`` that bounced or failed: the red envelope, with recipient and reason."""
    return list(Notification.select(Notification, Contact).join(Contact)
                .where((Notification.message == message.id) & Notification.status.in_(FAILED_STATUSES))
                .order_by(Notification.id))


def resend_failed_deliveries(env, message: Message) -> int:
    """Queue the failed email notifications of ``message`` again (to the contact's current email);
    they go back to ``ready``. Returns how many were queued."""
    from addons_mail.chatter.thread import record_of
    from addons_mail.mail_server.api import queue_mails

    failed = [n for n in failed_deliveries(message) if n.notification_type == "email"]
    if not failed:
        raise UserError(f"Message #{message.id} has no failed delivery to resend.")
    record = record_of(env, message.model, message.res_id)
    missing = [n.contact.name for n in failed if not n.contact.email]
    if missing:
        raise UserError(f"The contact {missing[0]} has no email address.",
                        hint="Add one with the contacts command, then resend.")
    parent_id = message.parent.message_id if message.parent_id else None
    attachments = _attachments_of(message)
    with env.atomic():
        rows = [{
            "email_from": _author_from_header(env, message),
            "email_to": formataddr((n.contact.name or "", n.contact.email)),
            "subject": message.subject or record.thread_display_name(), "body_html": message.body_html,
            "reply_to": document_reply_to(env, record, message.author_email),
            "headers": {"X-Juniper-Objects": f"{record.model_name}-{record.id}"},
            "message_id": message.message_id,
            "references": f"{parent_id} {message.message_id}" if parent_id else message.message_id,
            "in_reply_to": parent_id, "origin": ORIGIN, "attachments": attachments,
        } for n in failed]
        for notification, mail_id in zip(failed, queue_mails(env, rows)):
            Notification.update(status="ready", failure_type=None, failure_reason=None, mail_id=mail_id,
                                email=notification.contact.email).where(Notification.id == notification.id).execute()
    return len(failed)


def ignore_failed_deliveries(env, message: Message) -> int:
    """Dismiss the red envelope of ``message``: its failed notifications become ``canceled``."""
    return (Notification.update(status="canceled")
            .where((Notification.message == message.id) & Notification.status.in_(FAILED_STATUSES)).execute())
