"""Loop detection (SPEC §5): a sender that creates too many records, or posts too many messages on one
document, within ``mail.gateway.loop.minutes`` is a robot talking to us in a loop.

More than ``mail.gateway.loop.threshold`` such messages in the window and further mail from that
sender is dropped, with one notice (a warning in the log) per episode; the drops are counted in
``mail.gateway.loop`` records. Addresses and domains in ``mail.gateway.loop.allowlist``
(comma-separated) are exempt. Only :func:`record_loop_drop` writes.
"""
from __future__ import annotations

import datetime

from kernel.models import normalize_email

from addons_mail.chatter.models import LoopDrop, Message

__all__ = ["CREATING_ROUTES", "is_allowlisted", "messages_in_loop_window", "record_loop_drop"]

CREATING_ROUTES = ("alias_new", "default_model")


def is_allowlisted(env, email: str) -> bool:
    """True when ``email`` or its domain is in ``mail.gateway.loop.allowlist``."""
    normalized = normalize_email(email) or ""
    entries = {part.strip().lower().lstrip("@") for part in (env.params.get("mail.gateway.loop.allowlist") or "")
               .split(",") if part.strip()}
    return normalized in entries or normalized.rpartition("@")[2] in entries


def messages_in_loop_window(env, email: str, *, creating: bool, model: str | None = None,
                            res_id: int | None = None) -> int:
    """Messages from ``email`` in the window: those that created a record (``creating``), else those
    posted on the document ``model`` #``res_id``."""
    since = env.clock.now() - datetime.timedelta(minutes=env.params.get("mail.gateway.loop.minutes"))
    query = Message.select().where((Message.author_email == normalize_email(email)) & (Message.date >= since)
                                   & Message.gateway_route.is_null(False))
    if creating:
        query = query.where(Message.gateway_route.in_(CREATING_ROUTES))
    else:
        query = query.where((Message.model == model) & (Message.res_id == res_id))
    return query.count()


def record_loop_drop(env, email: str, reason: str) -> bool:
    """Count one message dropped from ``email``; True when it starts a new episode (the one notice):
    nothing was dropped from that sender within the loop window before."""
    now = env.clock.now()
    normalized = normalize_email(email)
    window = datetime.timedelta(minutes=env.params.get("mail.gateway.loop.minutes"))
    row = LoopDrop.get_or_none(LoopDrop.email_normalized == normalized)
    if row is None:
        LoopDrop.create(email_normalized=normalized, first_dropped_at=now, last_dropped_at=now, dropped=1,
                        reason=reason)
        return True
    new_episode = row.last_dropped_at < now - window
    (LoopDrop.update(last_dropped_at=now, reason=reason, dropped=1 if new_episode else LoopDrop.dropped + 1,
                     first_dropped_at=now if new_episode else row.first_dropped_at)
     .where(LoopDrop.id == row.id).execute())
    return new_episode
