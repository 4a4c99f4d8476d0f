"""Talking to IMAP and POP3 servers: connect (TLS verified), log in, read, acknowledge.

Every failure leaves these classes as a :class:`MailboxError` carrying the sentence of
:mod:`addons_mail.fetchmail.connection_errors` for the phase it happened in.
"""
import contextlib
import imaplib
import poplib
import re
import ssl

from addons_mail.fetchmail.connection_errors import (
    FolderMissing, MailboxError, ServerRefused, describe_connection_error,
)

UID_IN_FETCH_RESPONSE = re.compile(rb"\bUID (\d+)")
SIZE_IN_FETCH_RESPONSE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def tls_context(server) -> ssl.SSLContext:
    """A verifying TLS context: the system store, or ``server.ca_file`` when given."""
    return ssl.create_default_context(cafile=server.ca_file or None)


def quote_mailbox(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compress_uid_set(uids: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1:3,7"`` (keeps STORE commands short)."""
    ranges, ordered = [], sorted(uids)
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid != previous + 1:
            ranges.append((start, previous))
            start = uid
        previous = uid
    ranges.append((start, previous))
    return ",".join(f"{a}" if a == b else f"{a}:{b}" for a, b in ranges)


class Mailbox:
    """Shared phase handling: errors raised inside ``phase(name)`` become one sentence."""

    def __init__(self, server):
        self.server = server
        self.client = None

    @contextlib.contextmanager
    def phase(self, name: str):
        try:
            yield
        except MailboxError:
            raise
        except Exception as error:
            raise MailboxError(describe_connection_error(error, self.server, name)) from error

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class ImapMailbox(Mailbox):
    """One IMAP session on ``server``: select a folder, list unseen UIDs, fetch, mark seen."""

    def open(self) -> None:
        server = self.server
        with self.phase("connect"):
            if server.ssl:
                self.client = imaplib.IMAP4_SSL(server.host, server.effective_port,
                                                ssl_context=tls_context(server), timeout=server.timeout)
            else:
                self.client = imaplib.IMAP4(server.host, server.effective_port, timeout=server.timeout)
        if server.starttls and not server.ssl:
            with self.phase("starttls"):
                self.client.starttls(ssl_context=tls_context(server))
        with self.phase("login"):
            self.client.login(server.user or "", server.password or "")

    def select(self, folder: str) -> int:
        """Select ``folder`` read-write; return its UIDVALIDITY."""
        with self.phase("select"):
            status, detail = self.client.select(quote_mailbox(folder))
            if status != "OK":
                raise FolderMissing(detail)
            _, values = self.client.response("UIDVALIDITY")
            return int(values[0]) if values and values[0] else 0

    def unseen_uids_above(self, last_uid: int) -> list[int]:
        """UIDs of the unseen messages whose UID is above ``last_uid``, ascending."""
        with self.phase("search"):
            status, data = self.client.uid("SEARCH", None, "UNSEEN", f"UID {last_uid + 1}:*")
            if status != "OK":
                raise ServerRefused(data)
            uids = [int(word) for word in b" ".join(part for part in data if part).split()]
            # "n:*" always matches the highest UID, even when it is below n.
            return sorted(uid for uid in uids if uid > last_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """Size in bytes of each message of ``uids`` (one UID FETCH)."""
        with self.phase("fetch"):
            status, data = self.client.uid("FETCH", compress_uid_set(uids), "(UID RFC822.SIZE)")
            if status != "OK":
                raise ServerRefused(data)
            sizes = {}
            for line in data:
                line = line[0] if isinstance(line, tuple) else line
                uid = UID_IN_FETCH_RESPONSE.search(line or b"")
                size = SIZE_IN_FETCH_RESPONSE.search(line or b"")
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
            return sizes

    def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """(UID, raw bytes) of ``uids`` in one UID FETCH, without setting \\Seen."""
        with self.phase("fetch"):
            status, data = self.client.uid("FETCH", compress_uid_set(uids), "(UID BODY.PEEK[])")
            if status != "OK":
                raise ServerRefused(data)
            messages = []
            for part in data:
                if isinstance(part, tuple):
                    found = UID_IN_FETCH_RESPONSE.search(part[0])
                    if found:
                        messages.append((int(found.group(1)), part[1]))
            return sorted(messages)

    def mark_seen(self, uids: list[int]) -> None:
        if not uids:
            return
        with self.phase("acknowledge"):
            status, data = self.client.uid("STORE", compress_uid_set(uids), "+FLAGS.SILENT", r"(\Seen)")
            if status != "OK":
                raise ServerRefused(data)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()  # never CLOSE: it would expunge messages someone flagged \Deleted
        except Exception:  # closing a session that already broke: nothing more to say
            with contextlib.suppress(Exception):
                client.shutdown()


class PopMailbox(Mailbox):
    """One POP3 session on ``server``: count, retrieve, delete; deletions happen at ``quit()``."""

    def open(self) -> None:
        server = self.server
        with self.phase("connect"):
            if server.ssl:
                self.client = poplib.POP3_SSL(server.host, server.effective_port, timeout=server.timeout,
                                              context=tls_context(server))
            else:
                self.client = poplib.POP3(server.host, server.effective_port, timeout=server.timeout)
        if server.starttls and not server.ssl:
            with self.phase("starttls"):
                self.client.stls(context=tls_context(server))
        with self.phase("login"):
            self.client.user(server.user or "")
            self.client.pass_(server.password or "")

    def count(self) -> int:
        with self.phase("fetch"):
            return self.client.stat()[0]

    def retrieve(self, number: int) -> bytes:
        with self.phase("fetch"):
            _, lines, _ = self.client.retr(number)
            return b"\r\n".join(lines) + b"\r\n"

    def delete(self, number: int) -> None:
        with self.phase("acknowledge"):
            self.client.dele(number)

    def quit(self) -> None:
        """End the session; the server deletes the messages marked with DELE now."""
        client, self.client = self.client, None
        with self.phase("acknowledge"):
            client.quit()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def open_mailbox(server) -> Mailbox:
    """A logged-in IMAP or POP session on ``server``."""
    mailbox = (ImapMailbox if server.server_type == "imap" else PopMailbox)(server)
    try:
        mailbox.open()
    except BaseException:
        mailbox.close()
        raise
    return mailbox
