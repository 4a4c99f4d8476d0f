"""The public API of mail_server for the other addons (see docs/mail-contracts.md).

Every mail goes through the queue: ``queue_mail`` stores it and, with ``send_now``, asks the queue
to send it right after the current transaction commits.
"""
import hashlib
import os
import time

from addons_mail.mail_server.addresses import bounce_address, catchall_address, check_no_header_injection
from addons_mail.mail_server.addresses import default_from_address, mail_id_from_bounce_token, split_address
from addons_mail.mail_server.addresses import format_address, split_addresses
from addons_mail.mail_server.models import MailAttachment, MailContent, MailServer, OutgoingMail
from addons_mail.mail_server.queue import QueueRunStats, process_queue
from kernel.db import bulk_insert
from kernel.errors import UserError

__all__ = [
    "queue_mail", "queue_mails", "process_queue", "QueueRunStats", "OutgoingMail", "MailServer",
    "mail_id_from_bounce_token", "bounce_address", "catchall_address", "default_from_address", "make_message_id",
]

_INSERT_CHUNK = 500
_FIELDS = ("email_from", "email_to", "subject", "body_html", "body_text", "email_cc", "email_bcc", "reply_to",
           "headers", "attachments", "message_id", "references", "in_reply_to", "server", "scheduled_at",
           "auto_delete", "origin", "send_now")


def make_message_id(domain: str | None = None) -> str:
    """A new, globally unique Message-Id ``<time.random@domain>``."""
    return f"<{int(time.time() * 1000):x}.{os.urandom(8).hex()}@{domain or 'juniper.localhost'}>"


def _address_text(field: str, value) -> str:
    check_no_header_injection(field, value)
    if not value:
        return ""
    pairs = split_addresses(value)
    for _name, address in pairs:
        local, _, domain = address.rpartition("@")
        if not local or not domain or not local.isascii():
            raise UserError(f"{address!r} in {field} is not an email address that can be sent to.",
                            hint="Use an address such as name@example.com.")
    return ", ".join(format_address(name, address) for name, address in pairs)


def _content_digest(body_html, body_text, attachments) -> str:
    digest = hashlib.sha256()
    for part in (body_html or "", "\0", body_text or "", "\0"):
        digest.update(part.encode("utf-8"))
    for filename, content, mimetype in attachments:
        digest.update(f"{filename}\0{mimetype}\0".encode("utf-8"))
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _normalized(env, row: dict, now) -> dict:
    unknown = set(row) - set(_FIELDS)
    if unknown:
        raise TypeError(f"queue_mail() got unknown fields: {', '.join(sorted(unknown))}")
    email_from = row.get("email_from")
    if not email_from or not split_address(email_from)[1]:
        raise UserError(f"{email_from!r} is not a From address." if email_from else "The mail has no From address.",
                        hint="Give a From such as \"Name\" <name@example.com>.")
    check_no_header_injection("From", email_from)
    subject = row.get("subject") or ""
    check_no_header_injection("subject", subject)
    for name, value in (row.get("headers") or {}).items():
        check_no_header_injection(f"header {name}", [name, str(value)])
    for field in ("reply_to", "message_id", "references", "in_reply_to"):
        check_no_header_injection(field.replace("_", "-"), row.get(field))
    attachments = [(filename, bytes(content), mimetype or "application/octet-stream")
                   for filename, content, mimetype in (row.get("attachments") or ())]
    for filename, _content, mimetype in attachments:
        check_no_header_injection("attachment name", [filename, mimetype])
    email_to = _address_text("To", row.get("email_to"))
    email_cc = _address_text("Cc", row.get("email_cc"))
    email_bcc = _address_text("Bcc", row.get("email_bcc"))
    if not (email_to or email_cc or email_bcc):
        raise UserError("The mail has no recipient.", hint="Give at least one To, Cc or Bcc address.")
    server = row.get("server")
    domain = (env.params.get("mail.catchall.domain") or split_address(email_from)[1].rpartition("@")[2])
    message_id = row.get("message_id") or make_message_id(domain)
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    scheduled_at = row.get("scheduled_at")
    return {
        "mail": {
            "email_from": email_from, "email_to": email_to, "email_cc": email_cc, "email_bcc": email_bcc,
            "reply_to": _address_text("Reply-To", row.get("reply_to")) or None, "subject": subject,
            "headers": dict(row["headers"]) if row.get("headers") else None,
            "references": row.get("references"), "in_reply_to": row.get("in_reply_to"),
            "message_id": message_id, "server": server.id if server is not None else None,
            "server_forced": server is not None, "origin": row.get("origin"),
            "auto_delete": bool(row.get("auto_delete", True)), "scheduled_at": scheduled_at,
            "next_retry_at": scheduled_at or now, "created_at": now, "state": "outgoing", "attempts": 0,
        },
        "content": (row.get("body_html"), row.get("body_text"), attachments),
        "send_now": row.get("send_now", True),
    }


def _store_contents(env, contents: dict[str, tuple]) -> dict[str, int]:
    """Content id by digest, inserting the contents not stored yet."""
    ids: dict[str, int] = {}
    digests = list(contents)
    for start in range(0, len(digests), _INSERT_CHUNK):
        chunk = digests[start:start + _INSERT_CHUNK]
        for content_id, digest in MailContent.select(MailContent.id, MailContent.digest).where(
                MailContent.digest.in_(chunk)).tuples():
            ids[digest] = content_id
    plain = [digest for digest in digests if digest not in ids and not contents[digest][2]]
    rows = [{"digest": digest, "body_html": contents[digest][0], "body_text": contents[digest][1]}
            for digest in plain]
    for digest, content_id in zip(plain, bulk_insert(env.db, MailContent, rows, _INSERT_CHUNK)):
        ids[digest] = content_id
    for digest in digests:
        if digest in ids:
            continue
        body_html, body_text, attachments = contents[digest]
        content = MailContent.create(digest=digest, body_html=body_html, body_text=body_text)
        for sequence, (filename, data, mimetype) in enumerate(attachments):
            MailAttachment.create(content=content, sequence=sequence, filename=filename, mimetype=mimetype, data=data)
        ids[digest] = content.id
    return ids


def queue_mails(env, rows: list[dict]) -> list[int]:
    """Queue many mails (the keyword fields of :func:`queue_mail` as dicts), in batches; ids in order."""
    now = env.clock.now()
    normalized = [_normalized(env, row, now) for row in rows]
    contents = {}
    digests = []
    for item in normalized:
        digest = _content_digest(*item["content"])
        contents.setdefault(digest, item["content"])
        digests.append(digest)
    with env.atomic():
        content_ids = _store_contents(env, contents)
        mails = []
        for item, digest in zip(normalized, digests):
            item["mail"]["content"] = content_ids[digest]
            mails.append(item["mail"])
        ids = bulk_insert(env.db, OutgoingMail, mails, _INSERT_CHUNK)
        send_now = [mail_id for mail_id, item in zip(ids, normalized) if item["send_now"]]
        if send_now:
            _send_after_commit(env, send_now)
    return ids


def _send_after_commit(env, mail_ids: list[int]) -> None:
    pending = env.__dict__.setdefault("_mail_send_now", [])
    pending.extend(mail_ids)

    def send_pending():
        ids, env.__dict__["_mail_send_now"] = list(env.__dict__.get("_mail_send_now", [])), []
        if ids:
            process_queue(env, mail_ids=ids)

    callback = env.__dict__.setdefault("_mail_send_now_callback", send_pending)
    env.on_commit(callback)


def queue_mail(env, *, email_from, email_to, subject, body_html, body_text=None, email_cc=(), email_bcc=(),
               reply_to=None, headers=None, attachments=(), message_id=None, references=None, in_reply_to=None,
               server=None, scheduled_at=None, auto_delete=True, origin=None, send_now=True) -> OutgoingMail:
    """Queue one mail; with ``send_now`` it is sent right after the current transaction commits."""
    row = {key: value for key, value in locals().items() if key != "env"}
    with env.atomic():
        (mail_id,) = queue_mails(env, [row])
        mail = OutgoingMail.get_by_id(mail_id)
    return mail
