"""Turning a claimed queue row into the bytes sent over SMTP: header fields per mail, the body from
the per-content cache, the ``before_mail_send`` hook, and the DKIM signature of the From domain."""
import email.message
import email.policy
from email.utils import getaddresses

from addons_mail.mail_server.addresses import domain_of, split_address, split_addresses
from addons_mail.mail_server.dkim_signing import DkimSigner
from addons_mail.mail_server.mime import BodyCache, date_header, encode_address_header, encode_text_header, fold
from addons_mail.mail_server.mime import serialize_body
from addons_mail.mail_server.models import DkimKey, MailAttachment, MailContent

ADDRESS_HEADERS = {"from", "to", "cc", "reply-to", "sender", "resent-from", "resent-to"}
IDENTIFIER_HEADERS = {"message-id", "references", "in-reply-to"}

_body_caches: dict = {}


def encode_header(name: str, value: str) -> str:
    """One header field, encoded and folded according to its kind."""
    lowered = name.lower()
    if lowered in ADDRESS_HEADERS:
        pairs = [(n, a) for n, a in getaddresses([value]) if a]
        if pairs:
            return encode_address_header(name, pairs)
    if lowered in IDENTIFIER_HEADERS and value.isascii():
        return fold(name, value.split())
    return encode_text_header(name, value)


class MessageBuilder:
    """Builds the bytes of claimed mails; caches bodies per content and DKIM signers per domain."""

    def __init__(self, env):
        self.env = env
        key = env.url or id(env.db)
        self.bodies = _body_caches.setdefault(key, BodyCache())
        self.signers = {}
        for key_row in DkimKey.select():
            self.signers[key_row.domain] = DkimSigner(key_row.domain, key_row.selector,
                                                     key_row.private_key_pem.encode("ascii"))
        self.hooked = bool(env.pm.hook.before_mail_send.get_hookimpls())
        self.refusal = None
        self.prefetched: dict[int, bytes] = {}

    def prefetch(self, content_ids) -> None:
        """Serialize the bodies of ``content_ids`` not cached yet, with two queries for all of them."""
        wanted = set(content_ids)
        self.prefetched = {cid: body for cid in wanted if (body := self.bodies.get(cid)) is not None}
        missing = sorted(wanted - set(self.prefetched))
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            attachments: dict[int, list] = {}
            for a in (MailAttachment.select().where(MailAttachment.content.in_(chunk))
                      .order_by(MailAttachment.content, MailAttachment.sequence, MailAttachment.id)):
                attachments.setdefault(a.content_id, []).append((a.filename, a.mimetype, bytes(a.data)))
            for content_id, body_html, body_text in (MailContent.select(
                    MailContent.id, MailContent.body_html, MailContent.body_text)
                    .where(MailContent.id.in_(chunk)).tuples()):
                body = serialize_body(body_html, body_text, attachments.get(content_id, ()))
                self.prefetched[content_id] = body
                self.bodies.put(content_id, body)

    def body(self, content_id: int) -> bytes:
        body = self.prefetched.get(content_id) or self.bodies.get(content_id)
        if body is None:
            content = MailContent.get_by_id(content_id)
            attachments = [(a.filename, a.mimetype, bytes(a.data)) for a in
                           MailAttachment.select().where(MailAttachment.content == content_id)
                           .order_by(MailAttachment.sequence, MailAttachment.id)]
            body = serialize_body(content.body_html, content.body_text, attachments)
            self.bodies.put(content_id, body)
        return body

    def header_fields(self, row, header_from: str) -> list[tuple[str, str]]:
        fields = [("From", header_from)]
        for name, column in (("To", "email_to"), ("Cc", "email_cc"), ("Reply-To", "reply_to")):
            if row[column]:
                fields.append((name, row[column]))
        fields += [("Subject", row["subject"] or ""), ("Date", date_header(self.env.clock.now())),
                   ("Message-Id", row["message_id"])]
        if row["references"]:
            fields.append(("References", row["references"]))
        if row["in_reply_to"]:
            fields.append(("In-Reply-To", row["in_reply_to"]))
        headers = row["headers"]
        if isinstance(headers, str):
            import json

            headers = json.loads(headers)
        for name, value in (headers or {}).items():
            fields.append((name, str(value)))
        return fields

    def build(self, row, header_from: str) -> bytes | None:
        """The message bytes, or None when a ``before_mail_send`` plugin refused it (see ``refusal``)."""
        fields = self.header_fields(row, header_from)
        if self.hooked:
            fields = self._run_hook(row, fields)
            if fields is None:
                return None
        head = "".join(self._fast_header(name, value) for name, value in fields)
        message = head.encode("ascii") + self.body(row["content_id"])
        signer = self.signers.get(domain_of(split_address(header_from)[1]))
        if signer is not None:
            message = signer.sign(message)
        return message

    @staticmethod
    def _fast_header(name: str, value: str) -> str:
        if name == "Date" or (name == "Message-Id" and len(value) < 60):
            return f"{name}: {value}\r\n"
        if name in ("To", "From", "Cc", "Reply-To"):
            pairs = split_addresses(value)
            if not pairs:
                return ""
            return encode_address_header(name, pairs)
        return encode_header(name, value)

    def _run_hook(self, row, fields):
        from addons_mail.mail_server.models import OutgoingMail

        message = email.message.EmailMessage(policy=email.policy.SMTP)
        for name, value in fields:
            message[name] = value
        mail = OutgoingMail.get_by_id(row["id"])
        answers = self.env.pm.hook.before_mail_send(env=self.env, mail=mail, message=message)
        refusals = [answer for answer in answers if isinstance(answer, str) and answer.strip()]
        if refusals:
            self.refusal = refusals[0]
            return None
        return [(name, str(value)) for name, value in message.items()
                if name.lower() not in ("mime-version", "content-type", "content-transfer-encoding")]
