"""Handing raw messages to the gateway, and the dead-letter store (the contract other addons use).

:func:`hand_over_message` is the one place where a raw message enters the database: the
``process_incoming_message`` hook runs in its own transaction; when it raises, that transaction is
rolled back and the message is dead-lettered instead. Either way, once it returns, the message is
stored and committed, and the caller may acknowledge it on the mail server.
"""
import dataclasses
import email.header
import email.parser
import email.policy
import hashlib

from kernel.errors import NotFound

from addons_mail.fetchmail.models import DeadLetter

NO_GATEWAY_ERROR = "No mail gateway is installed."
HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclasses.dataclass
class HandOver:
    """What became of one message: the gateway's result, or the dead letter that keeps it."""

    result: dict | None
    dead_letter: DeadLetter | None = None

    @property
    def dead_lettered(self) -> bool:
        return self.dead_letter is not None or (self.result or {}).get("route") == "dead_letter"

    def as_row(self) -> dict:
        if self.dead_letter is not None:
            return {"stored": True, "route": "dead_letter", "dead_letter_id": self.dead_letter.id,
                    "error": self.dead_letter.error}
        return {"stored": True, **{k: _plain(v) for k, v in (self.result or {}).items()}}


def _plain(value):
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)


def _header_text(value) -> str | None:
    if value is None:
        return None
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except Exception:  # undecodable RFC 2047 words or charsets: keep the raw header text
        text = str(value)
    return " ".join(text.split()) or None


def read_identity(raw: bytes) -> tuple[str | None, str | None]:
    """(Message-Id, Subject) read leniently from the headers of ``raw``; None when absent."""
    try:
        headers = HEADER_PARSER.parsebytes(raw)
        return _header_text(headers.get("Message-Id")), _header_text(headers.get("Subject"))
    except Exception:  # the raw bytes are kept whatever their headers look like
        return None, None


def fingerprint_of(raw: bytes, message_id: str | None) -> str:
    if message_id:
        return hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def store_dead_letter(env, raw: bytes, error: str, server=None, message_id=None) -> DeadLetter:
    """Keep ``raw`` with ``error`` in the dead-letter store; a message already there (same Message-Id,
    or same bytes when it has none) is updated, not stored twice."""
    raw = bytes(raw)
    parsed_id, subject = read_identity(raw)
    message_id = message_id or parsed_id
    fingerprint = fingerprint_of(raw, message_id)
    with env.atomic():
        existing = DeadLetter.get_or_none(DeadLetter.fingerprint == fingerprint)
        if existing is not None:
            existing.error = error
            existing.save()
            return existing
        return DeadLetter.create(
            raw=raw, error=error, server=server, message_id=message_id, fingerprint=fingerprint,
            subject=subject, received_at=env.clock.now(),
        )


def describe_processing_error(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    return f"The gateway failed on this message: {type(error).__name__}: {text}"


def hand_over_message(env, raw: bytes, server=None) -> HandOver:
    """Give ``raw`` to the gateway (``process_incoming_message``) in a transaction; dead-letter it when
    no gateway answers or when the gateway raises (its transaction is rolled back first).

    Database errors while dead-lettering propagate: the message is then not stored and must not be
    acknowledged.
    """
    try:
        with env.atomic(savepoint=True):
            result = env.pm.hook.process_incoming_message(env=env, raw=raw, server=server)
    except Exception as error:
        if is_database_down(error):
            raise
        return HandOver(None, store_dead_letter(env, raw, describe_processing_error(error), server))
    if result is None:
        return HandOver(None, store_dead_letter(env, raw, NO_GATEWAY_ERROR, server))
    return HandOver(dict(result))


def is_database_down(error: BaseException) -> bool:
    """True for errors that mean the database cannot be used now (the message must not be acknowledged)."""
    import peewee

    return isinstance(error, (peewee.OperationalError, peewee.InterfaceError)) and not isinstance(
        error, peewee.IntegrityError)


def retry_dead_letter(env, dead_letter_id: int) -> HandOver:
    """Give a dead letter to the gateway again; it leaves the store when the gateway takes it."""
    letter = DeadLetter.get_or_none(DeadLetter.id == dead_letter_id)
    if letter is None:
        raise NotFound(f"No dead letter #{dead_letter_id}.", hint="See `juniper mail deadletter list`.")
    raw, server = letter.raw_bytes, letter.server
    outcome = hand_over_message(env, raw, server)
    routed_elsewhere = outcome.dead_letter is None and outcome.result.get("route") != "dead_letter"
    with env.atomic():
        if routed_elsewhere:
            letter.delete_instance()
        else:
            letter = DeadLetter.get_by_id(letter.id)
            letter.retries += 1
            letter.last_retry_at = env.clock.now()
            letter.save()
    return outcome


def delete_dead_letter(env, dead_letter_id: int) -> None:
    """Drop a dead letter for good."""
    if not DeadLetter.delete().where(DeadLetter.id == dead_letter_id).execute():
        raise NotFound(f"No dead letter #{dead_letter_id}.", hint="See `juniper mail deadletter list`.")
