"""What a recognised bounce changes (SPEC §5 step 3): notification, history, counter, hook.

Per failed recipient: the notification that carried the mail becomes ``bounce`` /
``mail_bounce`` with the DSN reason (the failed-delivery marker), a :class:`BounceRecord` keeps
the history, a ``hard`` bounce adds one to the address's counter (a ``soft`` one does not), and
the hook ``after_mail_bounced`` is called with a :class:`BounceEvent`. Nothing is posted in the
thread. Any normal mail from an address resets its counter.
"""
from __future__ import annotations

import dataclasses
import datetime

from kernel.models import Contact, normalize_email
from peewee import fn

from addons_mail.chatter.bounces import BounceReport, VerpTarget
from addons_mail.chatter.models import BounceCounter, BounceRecord, Message, Notification

__all__ = [
    "BounceEvent",
    "VerpLookup",
    "apply_bounce",
    "bounced_message",
    "hard_bounce_count",
    "reset_bounce_counter",
]


@dataclasses.dataclass(frozen=True)
class BounceEvent:
    """One bounced recipient, as given to the ``after_mail_bounced`` hook."""

    email: str
    kind: str
    status: str
    reason: str
    mail_id: int | None
    message_id: str | None
    received_at: datetime.datetime


class VerpLookup:
    """``verp_parse`` for :func:`~addons_mail.chatter.bounces.detect_bounce`: decodes a bounce tag into
    the outgoing mail id (kept in ``mail_id``), its recipient and its Message-Id. Reads only.

    Mail ids are never reused now (``MonotonicAutoField``), but a database whose SQLite table predates
    that may have given the id of an auto-deleted mail to a later one; when a tag names several
    notifications, the Message-Id quoted in the bounce chooses, and without one the newest wins.
    """

    def __init__(self, env, msg=None, **detect_options):
        self.env = env
        self.msg = msg
        self.detect_options = detect_options
        self.mail_id: int | None = None

    def _quoted_message_id(self) -> str | None:
        from addons_mail.chatter.bounces import detect_bounce

        if self.msg is None:
            return None
        report = detect_bounce(self.msg, **self.detect_options)
        return report.bounced_message_id if report is not None else None

    def __call__(self, token: str) -> VerpTarget | None:
        from addons_mail.mail_server.api import mail_id_from_bounce_token

        mail_id = mail_id_from_bounce_token(self.env, token)
        if mail_id is None:
            return None
        self.mail_id = mail_id
        candidates = list(Notification.select(Notification, Message).join(Message)
                          .where(Notification.mail_id == mail_id).order_by(Notification.id.desc()))
        if candidates:
            chosen = candidates[0]
            if len({n.message_id for n in candidates}) > 1:
                quoted = self._quoted_message_id()
                chosen = next((n for n in candidates if n.message.message_id == quoted), chosen)
            return VerpTarget(chosen.email, chosen.message.message_id)
        mail_model = self.env.models.get("mail.mail")
        mail = mail_model.get_or_none(mail_model.id == mail_id) if mail_model is not None else None
        if mail is not None:
            from addons_mail.mail_server.addresses import split_addresses

            recipients = split_addresses(mail.email_to)
            return VerpTarget(recipients[0][1] if len(recipients) == 1 else None, mail.message_id)
        return VerpTarget(None, None)


def _notifications_for(email: str, mail_id: int | None, message_id: str | None):
    """Query of the notifications a bounce for ``email`` is about (by mail id, else by Message-Id)."""
    condition = fn.LOWER(Notification.email) == email
    if message_id:
        condition &= Notification.message.in_(Message.select(Message.id).where(Message.message_id == message_id))
    if mail_id is not None:
        condition &= Notification.mail_id == mail_id
    elif not message_id:
        return None
    return Notification.select(Notification.id).where(condition)


def bounced_message(report: BounceReport, mail_id: int | None) -> Message | None:
    """The thread message the bounce is about, when we know it."""
    if report.bounced_message_id:
        message = Message.get_or_none(Message.message_id == report.bounced_message_id)
        if message is not None:
            return message
    if mail_id is not None:
        notification = (Notification.select(Notification.message).where(Notification.mail_id == mail_id)
                        .order_by(Notification.id.desc()).first())
        if notification is not None:
            return Message.get_or_none(Message.id == notification.message_id)
    return None


def apply_bounce(env, report: BounceReport, mail_id: int | None) -> list[BounceEvent]:
    """Record every failed recipient of ``report`` (see module doc) and return the events fired."""
    now = env.clock.now()
    events = []
    for recipient in report.recipients:
        email = normalize_email(recipient.email)
        if not email:
            continue
        reason = recipient.reason or recipient.status or "The message bounced."
        BounceRecord.create(email_normalized=email, kind=recipient.kind, status=recipient.status or "",
                            reason=reason, received_at=now, mail_id=mail_id,
                            message_id=report.bounced_message_id)
        targets = _notifications_for(email, mail_id, report.bounced_message_id)
        if targets is not None:
            (Notification.update(status="bounce", failure_type="mail_bounce", failure_reason=reason)
             .where(Notification.id.in_(targets) & (Notification.status != "canceled")).execute())
        if recipient.kind == "hard":
            (BounceCounter.insert(email_normalized=email, hard_bounce_count=1, last_bounce_at=now)
             .on_conflict(conflict_target=[BounceCounter.email_normalized],
                          update={BounceCounter.hard_bounce_count: BounceCounter.hard_bounce_count + 1,
                                  BounceCounter.last_bounce_at: now})
             .execute())
        event = BounceEvent(email=email, kind=recipient.kind, status=recipient.status or "", reason=reason,
                            mail_id=mail_id, message_id=report.bounced_message_id, received_at=now)
        env.pm.hook.after_mail_bounced(env=env, bounce=event)
        events.append(event)
    return events


def reset_bounce_counter(email: str | None) -> None:
    """A normal mail came from ``email``: its hard-bounce counter starts again from zero."""
    normalized = normalize_email(email)
    if normalized:
        (BounceCounter.update(hard_bounce_count=0)
         .where((BounceCounter.email_normalized == normalized) & (BounceCounter.hard_bounce_count > 0)).execute())


def hard_bounce_count(contact_or_email: Contact | str | None) -> int:
    """The hard bounces of a contact (or address) since its last normal mail."""
    email = contact_or_email.email if isinstance(contact_or_email, Contact) else contact_or_email
    normalized = normalize_email(email)
    if not normalized:
        return 0
    row = BounceCounter.get_or_none(BounceCounter.email_normalized == normalized)
    return row.hard_bounce_count if row else 0
