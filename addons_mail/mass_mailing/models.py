"""Records of mass mailing: lists, mailings, per-recipient traces, the blacklist and its log notes."""
import datetime

import peewee

from kernel.db import BaseModel
from kernel.models import Contact

MAILING_STATES = ("draft", "queued", "sending", "paused", "done")
TRACE_STATES = ("outgoing", "sent", "bounce", "error", "cancel", "reply")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class MailingList(BaseModel):
    """A named list of contacts a mailing can be sent to."""

    model_name = "mailing.list"
    name = peewee.CharField(unique=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "mailing_list"


class MailingListMember(BaseModel):
    """A contact on a list; ``opt_out`` once they unsubscribed from it."""

    model_name = "mailing.list.member"
    mailing_list = peewee.ForeignKeyField(MailingList, backref="members", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    opt_out = peewee.BooleanField(default=False)
    opt_out_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mailing_list_member"
        indexes = ((("mailing_list", "contact"), True),)


class Mailing(BaseModel):
    """One mass mailing. Recipients are contacts matching ``contacts_query`` or the members of
    ``mailing_list``; ``last_recipient_id`` is the keyset cursor (contact id) of the recipients
    already given a trace, and ``recipients_listed`` says the cursor reached the end."""

    model_name = "mailing.mailing"
    subject = peewee.CharField()
    email_from = peewee.CharField()
    body_template = peewee.TextField()
    contacts_query = peewee.CharField(null=True)
    mailing_list = peewee.ForeignKeyField(MailingList, null=True, on_delete="RESTRICT")
    state = peewee.CharField(default="draft", index=True)
    scheduled_at = peewee.DateTimeField(null=True)
    last_recipient_id = peewee.IntegerField(default=0)
    recipients_listed = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mailing_mailing"


class MailingTrace(BaseModel):
    """What happened to one recipient of a mailing (SPEC §6)."""

    model_name = "mailing.trace"
    mailing = peewee.ForeignKeyField(Mailing, backref="traces", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    email = peewee.CharField(null=True)
    state = peewee.CharField(default="outgoing")
    failure_type = peewee.CharField(null=True)
    failure_reason = peewee.TextField(null=True)
    mail_id = peewee.IntegerField(null=True, index=True)
    message_id = peewee.CharField(null=True, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mailing_trace"
        indexes = ((("mailing", "email"), False), (("mailing", "state"), False))


class BlacklistEntry(BaseModel):
    """A normalized address that receives no mass mailing while ``active``."""

    model_name = "mail.blacklist"
    email = peewee.CharField(unique=True)
    reason = peewee.TextField(default="")
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "mail_blacklist"


class MailingNote(BaseModel):
    """A log note about a blacklist entry and/or a contact (who did what, and why)."""

    model_name = "mailing.note"
    entry = peewee.ForeignKeyField(BlacklistEntry, null=True, backref="notes", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    body = peewee.TextField()
    author = peewee.CharField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "mailing_note"


MODELS = [MailingList, MailingListMember, Mailing, MailingTrace, BlacklistEntry, MailingNote]
