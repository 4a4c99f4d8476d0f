"""Records of the fetchmail addon: incoming servers, IMAP checkpoints and dead letters."""
import peewee

from kernel.db import BaseModel

SERVER_TYPES = ("imap", "pop", "local")
SERVER_STATES = ("draft", "confirmed")
DEFAULT_PORTS = {("imap", False): 143, ("imap", True): 993, ("pop", False): 110, ("pop", True): 995}


class IncomingServer(BaseModel):
    """An IMAP or POP mailbox Juniper fetches, or a ``local`` entry point for an MTA pipe (SPEC §3).

    ``object_model`` is "Actions to Perform on Incoming Mails": the model in which the gateway creates
    records when nothing else routes a mail (blank for catchall/alias mailboxes). ``ca_file`` is an
    optional PEM bundle trusted instead of the system store (a private CA); TLS is always verified.
    """

    model_name = "fetchmail.server"
    name = peewee.CharField(unique=True)
    server_type = peewee.CharField(default="imap")
    host = peewee.CharField(null=True)
    port = peewee.IntegerField(null=True)
    ssl = peewee.BooleanField(default=False)
    starttls = peewee.BooleanField(default=False)
    user = peewee.CharField(null=True)
    password = peewee.TextField(null=True)
    folder = peewee.CharField(default="INBOX")
    object_model = peewee.CharField(null=True)
    keep_attachments = peewee.BooleanField(default=True)
    keep_original = peewee.BooleanField(default=False)
    priority = peewee.IntegerField(default=5)
    state = peewee.CharField(default="draft")
    ca_file = peewee.TextField(null=True)
    timeout = peewee.IntegerField(default=60)
    last_fetch_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)

    @property
    def effective_port(self) -> int | None:
        """The port given, else the protocol's default (IMAP 143/993, POP 110/995 by SSL)."""
        return self.port or DEFAULT_PORTS.get((self.server_type, bool(self.ssl)))

    def as_row(self) -> dict:
        """The server for listings: every field but the password."""
        return {
            "id": self.id, "name": self.name, "type": self.server_type, "host": self.host,
            "port": self.effective_port, "ssl": self.ssl, "starttls": self.starttls, "user": self.user,
            "password_set": bool(self.password), "folder": self.folder, "model": self.object_model,
            "keep_attachments": self.keep_attachments, "keep_original": self.keep_original,
            "priority": self.priority, "state": self.state, "ca_file": self.ca_file,
            "timeout": self.timeout, "last_fetch_at": self.last_fetch_at, "last_error": self.last_error,
        }


class ImapCheckpoint(BaseModel):
    """Where fetching resumes in one IMAP folder: messages above ``last_uid`` are new, as long as the
    folder's UIDVALIDITY is unchanged."""

    model_name = "fetchmail.imap.checkpoint"
    server = peewee.ForeignKeyField(IncomingServer, backref="checkpoints", on_delete="CASCADE")
    folder = peewee.CharField()
    uidvalidity = peewee.BigIntegerField()
    last_uid = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("server", "folder"), True),)


class DeadLetter(BaseModel):
    """A raw message the gateway could not take, with the error; kept until retried or deleted.

    ``fingerprint`` (SHA-256 of the Message-Id, or of the bytes when there is none) makes a message
    fetched twice one dead letter.
    """

    model_name = "fetchmail.dead_letter"
    raw = peewee.BlobField()
    error = peewee.TextField()
    server = peewee.ForeignKeyField(IncomingServer, null=True, backref="dead_letters", on_delete="SET NULL")
    message_id = peewee.TextField(null=True)
    fingerprint = peewee.CharField(max_length=64, unique=True)
    subject = peewee.TextField(null=True)
    received_at = peewee.DateTimeField()
    retries = peewee.IntegerField(default=0)
    last_retry_at = peewee.DateTimeField(null=True)

    @property
    def raw_bytes(self) -> bytes:
        return bytes(self.raw)

    def as_row(self) -> dict:
        return {
            "id": self.id, "received_at": self.received_at,
            "server": self.server.name if self.server_id else None,
            "message_id": self.message_id, "subject": self.subject, "error": self.error,
            "retries": self.retries, "size": len(self.raw_bytes),
        }
