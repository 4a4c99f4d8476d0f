"""Recognise automatic messages (out-of-office replies, autoresponders, bulk and list mail).

An automatic message found by :func:`detect_auto_reply` is posted on its document when it is a
reply, but never relayed to followers and never answered (SPEC §5 step 4), so that two robots
cannot answer each other forever. Signals, checked in this order, first match wins:

1. ``Auto-Submitted`` with any value other than ``no`` (RFC 3834);
2. ``X-Autoreply``, ``X-Autorespond`` or ``X-Autoresponse`` present (whatever the value).
   ``X-Auto-Response-Suppress`` is deliberately not a signal: Outlook also puts it on mail
   written by people;
3. ``Precedence: bulk``, ``junk`` or ``list``;
4. a subject that starts with a known out-of-office phrase in English, German, French, Spanish,
   Italian, Dutch or Portuguese (a ``Re:`` or ``AW:`` prefix is skipped first).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from addons_mail.chatter.incoming import IncomingMessage

__all__ = ["AutoReplySignal", "detect_auto_reply", "is_auto_reply"]


@dataclass(frozen=True, slots=True)
class AutoReplySignal:
    """Why a message was judged automatic: the header (or ``Subject``) and the value that matched."""

    header: str
    value: str

    def __str__(self) -> str:
        return f"{self.header}: {self.value}"


_MARKER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse")
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|réf|ref|tr|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*[\[(]?\s*("
    r"out of (the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoresponder|"
    r"away from (the )?office|on vacation|vacation reply|"
    r"abwesenheitsnotiz|abwesenheit|automatische antwort|"
    r"absence|absent|réponse automatique|reponse automatique|message d'absence|"
    r"fuera de la oficina|respuesta automática|respuesta automatica|"
    r"fuori sede|fuori ufficio|risposta automatica|"
    r"afwezig|automatisch antwoord|"
    r"ausência|ausencia|resposta automática|resposta automatica"
    r")\b",
    re.IGNORECASE,
)


def detect_auto_reply(headers: Mapping[str, str], subject: str = "") -> AutoReplySignal | None:
    """Return the first automatic-message signal in ``headers``/``subject``, or None for a human mail.

    ``headers`` is any case-insensitive mapping of raw header values (the ``headers`` of an
    :class:`~addons_mail.chatter.incoming.IncomingMessage`); missing headers are simply absent.
    """
    auto_submitted = (headers.get("Auto-Submitted") or "").strip()
    if auto_submitted and auto_submitted.split(";", 1)[0].strip().lower() != "no":
        return AutoReplySignal("Auto-Submitted", auto_submitted)
    for name in _MARKER_HEADERS:
        value = headers.get(name)
        if value is not None:
            return AutoReplySignal(name, value.strip())
    precedence = (headers.get("Precedence") or "").strip()
    if precedence.lower() in _AUTOMATIC_PRECEDENCE:
        return AutoReplySignal("Precedence", precedence)
    if subject:
        unprefixed = _REPLY_PREFIX.sub("", subject, count=1)
        if _OUT_OF_OFFICE_SUBJECT.match(unprefixed):
            return AutoReplySignal("Subject", subject.strip())
    return None


def is_auto_reply(msg: IncomingMessage) -> bool:
    """True when ``msg`` was sent by a robot (see module doc): never relay it, never answer it."""
    return msg.auto_submitted is not None
