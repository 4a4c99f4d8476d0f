"""Incoming server records: creating, changing, finding, and TEST & CONFIRM."""
from kernel.errors import NotFound, UserError

from addons_mail.fetchmail.connection_errors import MailboxError
from addons_mail.fetchmail.mailbox import ImapMailbox, open_mailbox
from addons_mail.fetchmail.models import SERVER_TYPES, IncomingServer

EDITABLE_FIELDS = (
    "server_type", "host", "port", "ssl", "starttls", "user", "password", "folder", "object_model",
    "keep_attachments", "keep_original", "priority", "ca_file", "timeout",
)


def check_server_settings(env, server: IncomingServer) -> None:
    """Refuse settings that cannot work, with a sentence naming the setting."""
    if server.server_type not in SERVER_TYPES:
        raise UserError(f"Unknown server type {server.server_type!r}.", hint="Use imap, pop or local.")
    if server.server_type != "local":
        if not server.host:
            raise UserError(f"The server {server.name!r} needs a host.", hint="Give --host.")
        if not server.user:
            raise UserError(f"The server {server.name!r} needs a user name.", hint="Give --user.")
    if server.ssl and server.starttls:
        raise UserError("SSL and STARTTLS exclude each other.",
                        hint="Use --ssl for implicit TLS (993/995) or --starttls on the plain port.")
    if server.port is not None and not 0 < server.port < 65536:
        raise UserError(f"The port {server.port} is not a TCP port.", hint="Give a port from 1 to 65535.")
    if server.object_model:
        try:
            env[server.object_model]
        except UserError:
            raise UserError(f"No model named {server.object_model!r} to create records in.",
                            hint="Give a model of an installed addon, or leave it blank.") from None


def create_incoming_server(env, name: str, **fields) -> IncomingServer:
    """Create a server record in state ``draft`` (TEST & CONFIRM confirms it)."""
    if IncomingServer.select().where(IncomingServer.name == name).exists():
        raise UserError(f"An incoming server named {name!r} exists already.",
                        hint="Choose another name, or change it with `juniper fetchmail edit`.")
    server = IncomingServer(name=name, **{k: v for k, v in fields.items() if v is not None})
    check_server_settings(env, server)
    with env.atomic():
        server.save()
    return server


def update_incoming_server(env, server: IncomingServer, **fields) -> IncomingServer:
    """Change the fields given (None leaves a field as it is); connection changes go back to ``draft``."""
    changed = False
    for key, value in fields.items():
        if value is None:
            continue
        if key not in EDITABLE_FIELDS:
            raise UserError(f"The field {key!r} of an incoming server cannot be edited.")
        if getattr(server, key) != value:
            setattr(server, key, value)
            changed = True
    check_server_settings(env, server)
    if changed and server.server_type != "local":
        server.state = "draft"
    with env.atomic():
        server.save()
    return server


def get_incoming_server(env, name: str) -> IncomingServer:
    server = IncomingServer.get_or_none(IncomingServer.name == name)
    if server is None:
        raise NotFound(f"No incoming server named {name!r}.", hint="See `juniper fetchmail list`.")
    return server


def test_and_confirm(env, server: IncomingServer) -> IncomingServer:
    """Connect, log in, select the folder (IMAP) and log out; confirm the server on success.

    A failure is recorded on the server as ``last_error`` and raised as a :class:`MailboxError`
    (one sentence); the state is left as it was.
    """
    if server.server_type != "local":
        try:
            with open_mailbox(server) as mailbox:
                if isinstance(mailbox, ImapMailbox):
                    mailbox.select(server.folder or "INBOX")
        except MailboxError as error:
            IncomingServer.update(last_error=str(error)).where(IncomingServer.id == server.id).execute()
            server.last_error = str(error)
            raise
    server.state, server.last_error = "confirmed", None
    with env.atomic():
        server.save()
    return server
