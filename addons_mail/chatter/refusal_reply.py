"""The one polite reply to a refused sender, from ``"MAILER-DAEMON" <bounce address>`` (SPEC §5).

Never sent to an automatic message, a bounce, a robot address or one of our own addresses, so two
systems can never bounce mail back and forth (no backscatter loops).
"""
from __future__ import annotations

import html
import logging
from email.utils import formataddr

from addons_mail.chatter.incoming import IncomingMessage

__all__ = ["refusal_reply_blocker", "send_refusal_reply"]

log = logging.getLogger("juniper.chatter.gateway")

ROBOT_LOCAL_PARTS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"}


def refusal_reply_blocker(env, msg: IncomingMessage) -> str | None:
    """Why no refusal reply may be sent to the sender of ``msg`` (None: one may be sent)."""
    from addons_mail.mail_server.api import bounce_address, catchall_address, default_from_address

    sender = msg.from_email
    if not sender or "@" not in sender:
        return "the sender has no address"
    if msg.is_auto_reply:
        return "the message is automatic"
    local, _, domain = sender.rpartition("@")
    if local in ROBOT_LOCAL_PARTS or local.split("+")[0] in ROBOT_LOCAL_PARTS:
        return "the sender is a robot address"
    bounce = bounce_address(env)
    if bounce is None:
        return "no bounce address is configured (mail.catchall.domain is unset)"
    ours = {bounce, catchall_address(env), default_from_address(env)}
    if sender in ours or local.split("+")[0] == bounce.split("@")[0] and domain == bounce.split("@")[1]:
        return "the sender is one of our own addresses"
    return None


def send_refusal_reply(env, msg: IncomingMessage, reason: str) -> bool:
    """Queue the polite refusal of ``msg`` with ``reason``; False (and a log line) when it must not be sent."""
    from addons_mail.mail_server.api import bounce_address, queue_mail

    blocker = refusal_reply_blocker(env, msg)
    if blocker is not None:
        log.info("No refusal reply to %s: %s", msg.from_email or "(no sender)", blocker)
        return False
    subject = msg.subject or "(no subject)"
    body = (f"<p>Hello,</p><p>Your message \u201c{html.escape(subject)}\u201d could not be delivered. "
            f"{html.escape(reason)}</p><p>This is an automatic reply; please do not answer it.</p>")
    queue_mail(env, email_from=formataddr(("MAILER-DAEMON", bounce_address(env))), email_to=msg.from_email,
               subject=f"Re: {subject}", body_html=body, in_reply_to=msg.message_id,
               references=msg.message_id, headers={"Auto-Submitted": "auto-replied"}, origin="chatter")
    return True
