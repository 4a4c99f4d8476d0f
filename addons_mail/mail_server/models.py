"""Records of outgoing mail: servers, queued mails, their shared content, DKIM keys, daily counters."""
import datetime

import peewee

from kernel.db import BaseModel, JSONField, MonotonicAutoField

ENCRYPTIONS = ("none", "starttls", "ssl")
AUTHENTICATIONS = ("login", "certificate")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}

MAIL_STATES = ("outgoing", "sending", "sent", "exception", "cancel")
FAILURE_TYPES = (
    "unknown", "mail_email_invalid", "mail_email_missing", "mail_from_invalid", "mail_from_missing",
    "mail_smtp", "mail_bounce", "mail_bl", "mail_optout", "mail_dup", "mail_limit",
)


class MailServer(BaseModel):
    """An outgoing SMTP server (SPEC §2). The password is stored but never printed, listed or logged."""

    model_name = "ir.mail_server"
    name = peewee.CharField(unique=True)
    host = peewee.CharField()
    port = peewee.IntegerField()
    encryption = peewee.CharField(default="starttls")
    authentication = peewee.CharField(default="login")
    user = peewee.CharField(null=True)
    password = peewee.TextField(null=True)
    certificate_pem = peewee.TextField(null=True)
    private_key_pem = peewee.TextField(null=True)
    ca_file = peewee.CharField(null=True)
    from_filter = peewee.TextField(null=True)
    priority = peewee.IntegerField(default=10)
    active = peewee.BooleanField(default=True)
    verify_tls = peewee.BooleanField(default=True)
    timeout = peewee.IntegerField(default=60)
    max_per_minute = peewee.IntegerField(null=True)
    max_per_day = peewee.IntegerField(null=True)
    throttled_until = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "ir_mail_server"

    def __repr__(self) -> str:
        return f"<MailServer {self.name!r} {self.host}:{self.port} {self.encryption}>"

    __str__ = __repr__

    @property
    def label(self) -> str:
        return self.name or "default server"


class MailContent(BaseModel):
    """The body and attachments of one or many mails, stored once (mass mailings share one row)."""

    model_name = "mail.content"
    digest = peewee.CharField(unique=True)
    body_html = peewee.TextField(null=True)
    body_text = peewee.TextField(null=True)

    class Meta:
        table_name = "mail_content"


class MailAttachment(BaseModel):
    model_name = "mail.content.attachment"
    content = peewee.ForeignKeyField(MailContent, backref="attachments", on_delete="CASCADE")
    sequence = peewee.IntegerField(default=0)
    filename = peewee.CharField()
    mimetype = peewee.CharField(default="application/octet-stream")
    data = peewee.BlobField()

    class Meta:
        table_name = "mail_content_attachment"


class OutgoingMail(BaseModel):
    """One email in the send queue (SPEC §2.4); recipients are stored as comma-separated text."""

    model_name = "mail.mail"
    id = MonotonicAutoField()  # ids go out in bounce addresses: never reuse one of a deleted mail
    state = peewee.CharField(default="outgoing")
    failure_type = peewee.CharField(null=True)
    failure_reason = peewee.TextField(null=True)
    recipient_failures = JSONField(null=True)
    message_id = peewee.CharField(index=True)
    email_from = peewee.TextField()
    email_to = peewee.TextField(default="")
    email_cc = peewee.TextField(default="")
    email_bcc = peewee.TextField(default="")
    reply_to = peewee.TextField(null=True)
    subject = peewee.TextField(default="")
    headers = JSONField(null=True)
    references = peewee.TextField(null=True)
    in_reply_to = peewee.TextField(null=True)
    content = peewee.ForeignKeyField(MailContent, on_delete="RESTRICT")
    server = peewee.ForeignKeyField(MailServer, null=True, on_delete="SET NULL")
    server_forced = peewee.BooleanField(default=False)
    origin = peewee.CharField(null=True)
    auto_delete = peewee.BooleanField(default=True)
    attempts = peewee.IntegerField(default=0)
    scheduled_at = peewee.DateTimeField(null=True)
    next_retry_at = peewee.DateTimeField()
    lease_owner = peewee.CharField(null=True)
    lease_until = peewee.DateTimeField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=datetime.datetime.utcnow)

    class Meta:
        table_name = "mail_mail"
        indexes = ((("state", "next_retry_at"), False),)

    def __repr__(self) -> str:
        return f"<OutgoingMail {self.id} {self.state} {self.message_id}>"


class DkimKey(BaseModel):
    """The DKIM selector and private key of one sending domain."""

    model_name = "mail.dkim.key"
    domain = peewee.CharField(unique=True)
    selector = peewee.CharField()
    private_key_pem = peewee.TextField()
    public_txt = peewee.TextField()
    created_at = peewee.DateTimeField(default=datetime.datetime.utcnow)

    class Meta:
        table_name = "mail_dkim_key"


class MailDailyCount(BaseModel):
    """Mails that left per UTC day: ``server_id`` 0 counts the whole database (the daily limit)."""

    model_name = "mail.daily.count"
    day = peewee.DateField()
    server_id = peewee.IntegerField(default=0)
    sent = peewee.IntegerField(default=0)

    class Meta:
        table_name = "mail_daily_count"
        indexes = ((("day", "server_id"), True),)


MODELS = [MailServer, MailContent, MailAttachment, OutgoingMail, DkimKey, MailDailyCount]
