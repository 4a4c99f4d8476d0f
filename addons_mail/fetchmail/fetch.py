"""The fetch job: read new mail of every confirmed server and hand each message to the gateway.

Order per message: fetch the bytes, store them in a committed transaction (routed or dead-lettered,
see :func:`hand_over_message`), and only then acknowledge on the server (IMAP ``\\Seen``, POP ``DELE``).
A crash between the commit and the acknowledgement means the message is fetched again on the next
run; the gateway recognises it by Message-Id and does not store it twice.
"""
import dataclasses
import logging

from addons_mail.fetchmail.api import hand_over_message, is_database_down
from addons_mail.fetchmail.connection_errors import MailboxError
from addons_mail.fetchmail.mailbox import ImapMailbox, PopMailbox
from addons_mail.fetchmail.models import ImapCheckpoint, IncomingServer

log = logging.getLogger("juniper.fetchmail")

IMAP_FETCH_CHUNK = 200
IMAP_FETCH_CHUNK_BYTES = 32 * 1024 * 1024
POP_ROUND_SIZE = 50


@dataclasses.dataclass
class FetchRun:
    """What one fetch of one server did."""

    server: str
    fetched: int = 0
    stored: int = 0
    dead_lettered: int = 0
    error: str | None = None

    def count(self, outcome) -> None:
        self.fetched += 1
        if outcome.dead_lettered:
            self.dead_lettered += 1
        else:
            self.stored += 1

    def as_row(self) -> dict:
        return dataclasses.asdict(self)


def fetch_all(env) -> list[FetchRun]:
    """Fetch every confirmed IMAP/POP server, by priority; one server's failure never stops the others.

    This is the scheduled action "Mail: Fetchmail Service".
    """
    servers = list(IncomingServer.select().where(
        IncomingServer.state == "confirmed", IncomingServer.server_type.in_(["imap", "pop"]),
    ).order_by(IncomingServer.priority, IncomingServer.id))
    runs = []
    for server in servers:
        try:
            runs.append(fetch_server(env, server))
        except Exception:  # recording the failure itself failed (database gone): go on with the others
            log.exception("fetching %s failed and its error could not be recorded", server.name)
            runs.append(FetchRun(server.name, error="The fetch failed and its error could not be recorded."))
    return runs


def fetch_server(env, server: IncomingServer) -> FetchRun:
    """Fetch the new messages of ``server`` now ("Fetch Now"); record the date and any error on it.

    Must run outside a transaction: each message commits on its own before it is acknowledged.
    """
    if env.db.transaction_depth():
        raise RuntimeError("fetch_server must run outside a transaction: it acknowledges after each commit")
    run = FetchRun(server.name)
    try:
        if server.server_type == "imap":
            fetch_imap(env, server, run)
        elif server.server_type == "pop":
            fetch_pop(env, server, run)
    except MailboxError as error:
        run.error = str(error)
    except Exception as error:
        log.exception("fetching %s failed", server.name)
        detail = " ".join(str(error).split())
        run.error = f"Fetching stopped on an unexpected error: {type(error).__name__}: {detail}."
    if env.db.in_transaction():
        env.db.rollback()
    IncomingServer.update(last_fetch_at=env.clock.now(), last_error=run.error).where(
        IncomingServer.id == server.id).execute()
    server.last_fetch_at, server.last_error = env.clock.now(), run.error
    if run.error:
        log.warning("fetchmail %s: %s", server.name, run.error)
    return run


def load_checkpoint(server: IncomingServer, folder: str, uidvalidity: int) -> ImapCheckpoint:
    """The folder's checkpoint; reset to the start when the folder's UIDVALIDITY changed."""
    checkpoint = ImapCheckpoint.get_or_none(ImapCheckpoint.server == server.id,
                                            ImapCheckpoint.folder == folder)
    if checkpoint is None:
        return ImapCheckpoint.create(server=server.id, folder=folder, uidvalidity=uidvalidity, last_uid=0)
    if checkpoint.uidvalidity != uidvalidity:
        checkpoint.uidvalidity, checkpoint.last_uid = uidvalidity, 0
        checkpoint.save()
    return checkpoint


def chunk_uids(uids: list[int], sizes: dict[int, int]) -> list[list[int]]:
    """``uids`` cut into chunks of at most IMAP_FETCH_CHUNK messages and IMAP_FETCH_CHUNK_BYTES bytes
    (a chunk holds at least one message, however large)."""
    chunks, current, current_bytes = [], [], 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if current and (len(current) >= IMAP_FETCH_CHUNK or current_bytes + size > IMAP_FETCH_CHUNK_BYTES):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(uid)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


def store_batch(env, server: IncomingServer, run: FetchRun, messages) -> tuple[list, Exception | None]:
    """Hand each ``(key, raw)`` of ``messages`` to the gateway in one transaction, a savepoint per message.

    Returns the keys stored, committed by then, and the mailbox error that cut the batch short (the
    line dropped), if any: what was stored before it is kept, so it can be acknowledged. A database
    failure rolls the whole batch back and propagates: nothing of it may be acknowledged.
    """
    stored, mailbox_error = [], None
    with env.atomic():
        try:
            for key, raw in messages:
                run.count(hand_over_message(env, raw, server))
                stored.append(key)
        except Exception as error:
            if is_database_down(error):
                raise
            mailbox_error = error
    return stored, mailbox_error


def fetch_imap(env, server: IncomingServer, run: FetchRun) -> None:
    """Unseen messages above the checkpoint, by UID, in bulk chunks stored in one transaction each;
    \\Seen and the checkpoint move only after that transaction committed."""
    folder = server.folder or "INBOX"
    mailbox = ImapMailbox(server)
    try:
        mailbox.open()
        checkpoint = load_checkpoint(server, folder, mailbox.select(folder))
        uids = mailbox.unseen_uids_above(checkpoint.last_uid)
        sizes = mailbox.sizes(uids) if uids else {}
        for chunk in chunk_uids(uids, sizes):
            stored, mailbox_error = store_batch(env, server, run, mailbox.fetch(chunk))
            if stored:
                mailbox.mark_seen(stored)
                checkpoint.last_uid = max(checkpoint.last_uid, *stored)
                checkpoint.save()
            if mailbox_error is not None:
                raise mailbox_error
    finally:
        mailbox.close()


def fetch_pop(env, server: IncomingServer, run: FetchRun) -> None:
    """Rounds of at most 50 messages (RETR, store, DELE, QUIT) until the mailbox is empty."""
    while True:
        mailbox = PopMailbox(server)
        try:
            mailbox.open()
            waiting = mailbox.count()
            if waiting == 0:
                return
            numbers = range(1, min(waiting, POP_ROUND_SIZE) + 1)
            stored, mailbox_error = store_batch(env, server, run, ((n, mailbox.retrieve(n)) for n in numbers))
            if mailbox_error is not None:
                raise mailbox_error  # without QUIT the server deletes nothing: the round comes again
            for number in stored:
                mailbox.delete(number)
            mailbox.quit()
        finally:
            mailbox.close()
