"""The records of the chatter: messages, followers, notifications, attachments, aliases, bounces."""

import peewee

from kernel.db import BaseModel, JSONField
from kernel.models import Contact

SUBTYPES = ("comment", "note")
MESSAGE_TYPES = ("email", "comment", "notification")
NOTIFICATION_TYPES = ("email", "inbox")
NOTIFICATION_STATUSES = ("ready", "sent", "bounce", "exception", "canceled")
FAILED_STATUSES = ("bounce", "exception")
CONTACT_POLICIES = ("everyone", "partners", "followers")
ALIAS_STATUSES = ("not_tested", "valid", "invalid")


class Message(BaseModel):
    """One entry of a thread: an email in or out, a comment or an internal note.

    ``author`` is the contact when the sender is known, ``author_email`` the raw address (always
    kept). ``message_id`` is the RFC 5322 Message-Id, unique: it threads replies and detects
    duplicates. ``gateway_route`` says how an incoming email arrived (``reply``, ``alias_new``,
    ``alias_post``, ``default_model``) and feeds loop detection.
    """

    model_name = "mail.message"
    model = peewee.CharField(index=True)
    res_id = peewee.IntegerField(index=True)
    author = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    author_email = peewee.CharField(null=True, index=True)
    author_name = peewee.CharField(null=True)
    subtype = peewee.CharField(default="comment")
    message_type = peewee.CharField(default="comment")
    subject = peewee.TextField(null=True)
    body_html = peewee.TextField(default="")
    message_id = peewee.CharField(unique=True)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL")
    date = peewee.DateTimeField(index=True)
    is_auto_reply = peewee.BooleanField(default=False)
    gateway_route = peewee.CharField(null=True)

    class Meta:
        indexes = ((("model", "res_id"), False),)

    @property
    def author_display(self) -> str:
        """The contact's name when the author is a known contact, else the raw email."""
        if self.author_id is not None and self.author.name:
            return self.author.name
        return self.author_email or self.author_name or "?"


class MessageAttachment(BaseModel):
    """A file of a message (attachment or inline image, ``content_id`` set for ``cid:`` images)."""

    model_name = "mail.attachment"
    message = peewee.ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = peewee.CharField()
    mimetype = peewee.CharField()
    content = peewee.BlobField()
    content_id = peewee.CharField(null=True)


class Follower(BaseModel):
    """A contact subscribed to a thread; ``subtypes`` lists the subtypes it is notified of."""

    model_name = "mail.followers"
    model = peewee.CharField()
    res_id = peewee.IntegerField()
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    subtypes = JSONField(default=lambda: list(SUBTYPES))

    class Meta:
        indexes = ((("model", "res_id", "contact"), True),)


class Notification(BaseModel):
    """One (message, recipient contact) pair with its delivery status.

    ``email`` is the recipient address at the time of sending (bounces are matched on it);
    ``mail_id`` the outgoing mail (``mail.mail``) that carries an email notification.
    """

    model_name = "mail.notification"
    message = peewee.ForeignKeyField(Message, backref="notifications", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    email = peewee.CharField(null=True)
    notification_type = peewee.CharField(default="email")
    status = peewee.CharField(default="ready")
    failure_type = peewee.CharField(null=True)
    failure_reason = peewee.TextField(null=True)
    mail_id = peewee.IntegerField(null=True, index=True)
    is_read = peewee.BooleanField(default=False)


class Alias(BaseModel):
    """An address ``name@domain`` that routes incoming mail to a model or to one fixed record.

    ``model`` is the model of the records created (``message_new``) or posted on; ``record_id``
    the fixed record (None: create a record per new email); ``defaults`` the values given to
    new records; ``owner_model``/``owner_id`` the owner document (whose followers the
    ``followers`` policy checks). ``domain`` is the alias domain when created ("" when none).
    """

    model_name = "mail.alias"
    name = peewee.CharField()
    domain = peewee.CharField(default="")
    model = peewee.CharField()
    record_id = peewee.IntegerField(null=True)
    defaults = JSONField(default=dict)
    contact_policy = peewee.CharField(default="everyone")
    owner_model = peewee.CharField(null=True)
    owner_id = peewee.IntegerField(null=True)
    status = peewee.CharField(default="not_tested")
    status_reason = peewee.TextField(null=True)

    class Meta:
        indexes = ((("name", "domain"), True),)

    @property
    def address(self) -> str:
        return f"{self.name}@{self.domain}" if self.domain else self.name


class BounceRecord(BaseModel):
    """One bounced recipient, as recognised by the gateway (history read by mass mailing)."""

    model_name = "mail.bounce"
    email_normalized = peewee.CharField(index=True)
    kind = peewee.CharField()
    status = peewee.CharField(default="")
    reason = peewee.TextField(default="")
    received_at = peewee.DateTimeField(index=True)
    mail_id = peewee.IntegerField(null=True)
    message_id = peewee.CharField(null=True)


class BounceCounter(BaseModel):
    """Hard bounces of an address since its last normal mail (the contact's bounce counter)."""

    model_name = "mail.bounce.counter"
    email_normalized = peewee.CharField(unique=True)
    hard_bounce_count = peewee.IntegerField(default=0)
    last_bounce_at = peewee.DateTimeField(null=True)


class LoopDrop(BaseModel):
    """A sender whose mail is being dropped by loop detection: when it started, how many were dropped."""

    model_name = "mail.gateway.loop"
    email_normalized = peewee.CharField(unique=True)
    first_dropped_at = peewee.DateTimeField()
    last_dropped_at = peewee.DateTimeField()
    dropped = peewee.IntegerField(default=0)
    reason = peewee.TextField(default="")


CHATTER_MODELS = [Message, MessageAttachment, Follower, Notification, Alias, BounceRecord, BounceCounter, LoopDrop]


