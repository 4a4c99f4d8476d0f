"""Recognise delivery failure reports (bounces) and say which recipient failed, and how badly.

:func:`detect_bounce` recognises a bounce by any of (``BounceReport.recognised_by``):

- ``bounce-address``: sent to the bounce address, plain or tagged (``bounce+TOKEN@domain``, VERP);
- ``mailer-daemon``: From ``mailer-daemon@…`` or ``postmaster@…``;
- ``delivery-status``: a ``multipart/report; report-type=delivery-status`` (RFC 3464 DSN), or any
  ``message/delivery-status`` part with a failed or delayed recipient;
- ``detector``: a non-standard bounce recognised by flufl.bounce's MTA-specific detectors. They
  are heuristic and slow on large mail, so they only run on a message that already has another
  signal or looks like a report: null or robot-like sender (daemon, postmaster, mailer, "Mail
  Delivery", administrator, smtp, antivirus), or a subject with delivery-failure words (returned,
  undeliverable, failure, rejected, warning, … in a few languages).

Failed recipients come, in this order of preference, from the DSN per-recipient blocks
(``Original-Recipient`` when it is an rfc822 address, else ``Final-Recipient``, as flufl.bounce
does), else from flufl.bounce. When the caller's ``verp_parse`` maps the VERP tag to a recipient,
that address replaces the detected ones (it is the address *we* sent to, before any forwarding),
keeping the status and reason of the matching or first detected failure.

Kind of each failed recipient (the counter of a contact only grows on ``hard``):

- a delay (DSN ``Action: delayed``, a ``4.x.x`` status, or a flufl temporary failure) is always
  ``soft``;
- a permanent failure is ``soft`` only when its status says the address itself is fine:
  ``5.2.2`` mailbox full, ``5.2.3`` message too large for the mailbox, ``5.3.4`` message too big,
  ``5.7.x`` policy / security / spam rejection, or a ``4.x.x`` status;
- every other permanent failure is ``hard``: ``5.1.x`` (unknown user or domain, moved, null MX),
  ``5.2.1`` (mailbox disabled: it accepts no mail), other ``5.x.x``, and a permanent failure
  without a readable status — an MTA that gives no reason for a definitive failure is treated as
  saying the address is bad, which is what the bounce corpus (flufl semantics) expects.

For a non-DSN bounce the status is read from the line of the report that names the recipient,
when that line holds an enhanced status code (``550 5.1.1 …``).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Literal, NamedTuple

from flufl.bounce import all_failures

try:  # the detector list of all_failures(), so that one detector tripping on odd input skips only itself
    from flufl.bounce._scan import _DETECTORS as _FLUFL_DETECTORS
except ImportError:  # a future flufl.bounce that moved it: all_failures() still works, less tolerantly
    _FLUFL_DETECTORS = None

from addons_mail.chatter.incoming import (
    IncomingMessage,
    decode_header_text,
    decode_text,
    normalize_email,
    normalize_message_id,
)

__all__ = [
    "BounceKind",
    "BounceReport",
    "BouncedRecipient",
    "VerpTarget",
    "classify_failure",
    "detect_bounce",
]

BounceKind = Literal["hard", "soft"]

BY_BOUNCE_ADDRESS = "bounce-address"
BY_MAILER_DAEMON = "mailer-daemon"
BY_DELIVERY_STATUS = "delivery-status"
BY_DETECTOR = "detector"

DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
SOFT_PERMANENT_STATUSES = frozenset({"5.2.2", "5.2.3", "5.3.4"})


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    """One failed recipient: lower-cased ``email``, ``kind``, DSN ``status`` (or ``""``), ``reason``."""

    email: str
    kind: BounceKind
    status: str = ""
    reason: str = ""


@dataclass(slots=True)
class BounceReport:
    """What a bounce says: who failed, which of our messages bounced, and how it was recognised.

    ``recipients`` may be empty: the message is a bounce (do not post it in a thread) but no
    recipient could be read from it.
    """

    recipients: list[BouncedRecipient]
    bounced_message_id: str | None
    verp_token: str | None
    recognised_by: list[str] = field(default_factory=list)

    @property
    def is_hard(self) -> bool:
        """True when at least one recipient bounced hard."""
        return any(recipient.kind == "hard" for recipient in self.recipients)


class VerpTarget(NamedTuple):
    """What a VERP tag stands for, as decoded by the caller's ``verp_parse``."""

    recipient: str | None
    message_id: str | None


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def classify_failure(permanent: bool, status: str) -> BounceKind:
    """``hard`` or ``soft`` for one failed recipient (rule in the module doc)."""
    if not permanent or status.startswith("4."):
        return "soft"
    if status in SOFT_PERMANENT_STATUSES or status.startswith("5.7."):
        return "soft"
    return "hard"


@dataclass(slots=True)
class _Failure:
    email: str
    permanent: bool
    status: str = ""
    reason: str = ""

    def as_recipient(self, email: str | None = None) -> BouncedRecipient:
        return BouncedRecipient(
            email=email or self.email,
            kind=classify_failure(self.permanent, self.status),
            status=self.status,
            reason=self.reason,
        )


def _parts_outside_embedded_messages(part: Message) -> Iterator[Message]:
    yield part
    if part.get_content_maintype() == "message" and part.get_content_type() != "message/delivery-status":
        return
    if part.is_multipart():
        for sub in part.get_payload():
            yield from _parts_outside_embedded_messages(sub)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [{name.lower(): decode_header_text(value) for name, value in block.items()} for block in payload]
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", payload or ""):
        fields: dict[str, str] = {}
        for name, _, value in re.findall(r"^([A-Za-z-]+):(\s*)(.*(?:\r?\n[ \t].*)*)", chunk, re.MULTILINE):
            fields.setdefault(name.lower(), decode_header_text(value))
        blocks.append(fields)
    return blocks


def _dsn_address(value: str) -> tuple[bool, str]:
    """(typed as rfc822, address) from ``rfc822; <user@example.com>``."""
    address_type, semicolon, address = value.partition(";")
    if not semicolon:
        return False, normalize_email(value)
    return address_type.strip().lower() == "rfc822", normalize_email(address)


def _read_dsn_failures(msg: Message) -> list[_Failure]:
    failures: list[_Failure] = []
    seen: set[str] = set()
    for part in _parts_outside_embedded_messages(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            status_match = _STATUS.search(block.get("status", ""))
            status = status_match.group(0) if status_match else ""
            action = block.get("action", "").strip().lower()
            if action.startswith("delayed"):
                permanent = False
            elif action.startswith(("fail", "error")):
                permanent = True
            elif not action and status[:1] in ("4", "5"):
                permanent = status.startswith("5")
            else:
                continue
            address = ""
            for header in ("original-recipient", "final-recipient", "x-actual-recipient"):
                if header in block:
                    typed, candidate = _dsn_address(block[header])
                    if "@" in candidate and (typed or header == "final-recipient"):
                        address = candidate
                        break
            if not address or address in seen:
                continue
            seen.add(address)
            diagnostic = block.get("diagnostic-code", "")
            reason = diagnostic.partition(";")[2].strip() if ";" in diagnostic else diagnostic.strip()
            failures.append(_Failure(address, permanent, status, reason or action))
    return failures


def _report_text(msg: Message) -> str:
    for part in _parts_outside_embedded_messages(msg):
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            return decode_text(part.get_payload(decode=True) or b"", part.get_content_charset())
    return ""


def _run_flufl_detectors(msg: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """flufl.bounce's ``all_failures`` (first detector that finds something wins), per-detector safe."""
    if _FLUFL_DETECTORS is None:
        try:
            return all_failures(msg)
        except Exception:  # odd input must not lose the message: DSN and VERP still apply
            return frozenset(), frozenset()
    for detector_class in _FLUFL_DETECTORS:
        try:
            temporary, permanent = detector_class().process(msg)
        except Exception:  # e.g. the Sina detector calls .lower() on an 8-bit From header object
            continue
        if temporary or permanent:
            return frozenset(temporary), frozenset(permanent)
    return frozenset(), frozenset()


def _read_detector_failures(msg: Message, report_text: str) -> list[_Failure]:
    temporary, permanent = _run_flufl_detectors(msg)
    lines = report_text.splitlines()
    failures = []
    for addresses, is_permanent in ((permanent, True), (temporary - permanent, False)):
        for raw_address in sorted(addresses):
            address = normalize_email(raw_address.decode("utf-8", errors="replace"))
            line = next((text.strip() for text in lines if address in text.lower()), "")
            status_match = _STATUS.search(line)
            failures.append(_Failure(address, is_permanent, status_match.group(0) if status_match else "",
                                     line[:300]))
    return failures


_REPORT_LIKE_SENDER = re.compile(r"daemon|postmaster|mail ?delivery|mailer|administrator|smtp|antivirus", re.I)
_REPORT_LIKE_SUBJECT = re.compile(
    r"deliver|returned|bounce|fail|reject|undeliver|user unknown|mail system|warning|"
    r"non remis|unzustellbar|zustellung|no entregado|non recapitato|onbestelbaar",
    re.IGNORECASE,
)


def _looks_like_report(msg: IncomingMessage) -> bool:
    """Cheap gate before the heuristic detectors: null or robot-like sender, or a failure subject."""
    return (
        not msg.from_email
        or bool(_REPORT_LIKE_SENDER.search(msg.from_email) or _REPORT_LIKE_SENDER.search(msg.from_name))
        or bool(_REPORT_LIKE_SUBJECT.search(msg.subject))
    )


def _bounce_address_tag(
    addresses: list[str], bounce_addresses: set[str], bounce_alias: str | None
) -> tuple[bool, str | None]:
    for address in addresses:
        local, _, domain = address.rpartition("@")
        base, plus, tag = local.partition("+")
        if f"{base}@{domain}" in bounce_addresses or (bounce_alias and base == bounce_alias):
            return True, (tag or None) if plus else None
    return False, None


_QUOTED_MESSAGE_ID = re.compile(r"^\s*(X-Juniper-Message-Id|Message-Id)\s*:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _bounced_message_id(msg: Message, report_text: str) -> str | None:
    """X-Juniper-Message-Id, then Message-Id, of the returned message (attached or quoted)."""
    candidates: list[tuple[str, str]] = []
    for part in _parts_outside_embedded_messages(msg):
        content_type = part.get_content_type()
        if content_type == "message/rfc822" and part.is_multipart():
            embedded = part.get_payload()[0]
            candidates += [(name, str(embedded.get(name, ""))) for name in ("x-juniper-message-id", "message-id")]
        elif content_type == "text/rfc822-headers":
            text = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
            candidates += [(name.lower(), value) for name, value in _QUOTED_MESSAGE_ID.findall(text)]
    candidates += [(name.lower(), value) for name, value in _QUOTED_MESSAGE_ID.findall(report_text)]
    for wanted in ("x-juniper-message-id", "message-id"):
        for name, value in candidates:
            if name == wanted and (message_id := normalize_message_id(value)):
                return message_id
    return None


_DELAY_WORDS = re.compile(r"delay|warning|not (yet )?been delivered|will (continue to )?retry", re.IGNORECASE)


def detect_bounce(
    msg: IncomingMessage,
    bounce_addresses: Collection[str] = (),
    *,
    bounce_alias: str | None = "bounce",
    verp_parse: Callable[[str], VerpTarget | None] | None = None,
) -> BounceReport | None:
    """Return a :class:`BounceReport` when ``msg`` is a delivery failure report, else None.

    ``bounce_addresses`` are the full bounce addresses of the database (``bounce@mycompany.com``);
    ``bounce_alias`` is the local part (``mail.bounce.alias``) accepted on any domain, or None to
    accept only the full addresses. Both match with or without a ``+TOKEN`` tag. ``verp_parse``
    turns a tag into a :class:`VerpTarget` (None for a tag it does not know). Never raises for a
    message made by :func:`~addons_mail.chatter.incoming.parse_incoming`.
    """
    recognised_by: list[str] = []
    bounce_set = {normalize_email(address) for address in bounce_addresses}
    alias = bounce_alias.lower() if bounce_alias else None
    to_bounce, verp_token = _bounce_address_tag(msg.to + msg.cc + msg.delivered_to, bounce_set, alias)
    if to_bounce:
        recognised_by.append(BY_BOUNCE_ADDRESS)
    if msg.from_email.rpartition("@")[0] in DAEMON_LOCAL_PARTS:
        recognised_by.append(BY_MAILER_DAEMON)

    mime = msg.email_message
    failures: list[_Failure] = []
    report_text = ""
    if mime is not None:
        if (mime.get_content_type() == "multipart/report"
                and str(mime.get_param("report-type", "")).lower() == "delivery-status"):
            recognised_by.append(BY_DELIVERY_STATUS)
        failures = _read_dsn_failures(mime)
        if failures and BY_DELIVERY_STATUS not in recognised_by:
            recognised_by.append(BY_DELIVERY_STATUS)
        report_text = _report_text(mime)
        if not failures and (recognised_by or _looks_like_report(msg)):
            failures = _read_detector_failures(mime, report_text)
            if failures:
                recognised_by.append(BY_DETECTOR)

    target = verp_parse(verp_token) if verp_token and verp_parse else None
    if not recognised_by and target is None:
        return None

    recipients = [failure.as_recipient() for failure in failures]
    if target is not None and target.recipient:
        verp_email = normalize_email(target.recipient)
        matching = [failure for failure in failures if failure.email == verp_email]
        if matching or failures:
            recipients = [(matching or failures)[0].as_recipient(verp_email)]
        else:
            delayed = bool(_DELAY_WORDS.search(msg.subject))
            recipients = [BouncedRecipient(verp_email, "soft" if delayed else "hard", "", msg.subject)]

    bounced_message_id = target.message_id if target is not None and target.message_id else None
    if bounced_message_id is None and mime is not None:
        bounced_message_id = _bounced_message_id(mime, report_text)
    return BounceReport(
        recipients=recipients,
        bounced_message_id=bounced_message_id,
        verp_token=verp_token,
        recognised_by=recognised_by,
    )
