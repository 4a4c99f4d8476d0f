"""Keeping traces up to date from the mail queue's events and the gateway's bounces and replies.

Each event updates the traces of a batch with one statement (``WHERE mail_id IN (...)``), then
finishes the mailings that have nothing left outgoing.
"""
import logging

from addons_mail.mass_mailing.mailings import finish_if_complete
from addons_mail.mass_mailing.models import MailingTrace

log = logging.getLogger("juniper.mass_mailing.traces")

ORIGIN = "mass_mailing"


def _finish_mailings_of(env, condition) -> None:
    mailing_ids = [row.mailing_id for row in MailingTrace.select(MailingTrace.mailing).where(condition).distinct()]
    for mailing_id in mailing_ids:
        finish_if_complete(env, mailing_id)


def mark_traces_sent(env, mail_ids: list[int]) -> int:
    if not mail_ids:
        return 0
    in_batch = MailingTrace.mail_id.in_(mail_ids)
    updated = (MailingTrace.update(state="sent", failure_type=None, failure_reason=None, updated_at=env.clock.now())
               .where(in_batch & (MailingTrace.state == "outgoing")).execute())
    if updated:
        _finish_mailings_of(env, in_batch)
    return updated


def mark_trace_failed(env, mail_id: int, failure_type: str, reason: str, permanent: bool) -> int:
    """A permanent failure ends the trace as ``error``; a temporary one only records the reason."""
    condition = (MailingTrace.mail_id == mail_id) & (MailingTrace.state == "outgoing")
    values = {"failure_type": failure_type, "failure_reason": reason, "updated_at": env.clock.now()}
    if permanent:
        values["state"] = "error"
    updated = MailingTrace.update(**values).where(condition).execute()
    if updated and permanent:
        _finish_mailings_of(env, MailingTrace.mail_id == mail_id)
    return updated


def mark_trace_bounced(env, bounce) -> int:
    """Set the trace of a bounced mailing mail to ``bounce`` (found by mail id, else Message-Id).

    A mailing mail has one recipient, so the reported address is not compared: a forwarded address
    bounces under another name."""
    if bounce.mail_id:
        condition = MailingTrace.mail_id == bounce.mail_id
    elif bounce.message_id:
        condition = MailingTrace.message_id == bounce.message_id
    else:
        return 0
    reason = " ".join(filter(None, [bounce.status, bounce.reason])) or f"{bounce.kind} bounce"
    updated = (MailingTrace.update(state="bounce", failure_type="mail_bounce", failure_reason=reason,
                                   updated_at=env.clock.now())
               .where(condition & MailingTrace.state.in_(["outgoing", "sent", "bounce"])).execute())
    if updated:
        _finish_mailings_of(env, condition)
    return updated


def mark_trace_replied(env, message_ids: list[str]) -> int:
    """A reply to a mailing mail (by In-Reply-To / References) sets its trace to ``reply``."""
    if not message_ids:
        return 0
    return (MailingTrace.update(state="reply", updated_at=env.clock.now())
            .where(MailingTrace.message_id.in_(message_ids) & (MailingTrace.state == "sent")).execute())


def reconcile_outgoing_traces(env, limit: int = 5000) -> int:
    """Settle ``outgoing`` traces whose mail the queue finished without telling us (a worker died
    between sending and its hooks, or someone cancelled or deleted the mail): they take the mail's
    outcome, or ``error`` when the mail is gone, so no mailing waits forever. Returns how many."""
    mail_model = env["mail.mail"]
    settled = 0
    pending = list(MailingTrace.select(MailingTrace.id, MailingTrace.mail_id).where(
        (MailingTrace.state == "outgoing") & MailingTrace.mail_id.is_null(False)).order_by(MailingTrace.id).limit(limit))
    if not pending:
        return 0
    mails = {mail.id: mail for mail in mail_model.select(
        mail_model.id, mail_model.state, mail_model.failure_type, mail_model.failure_reason).where(
        mail_model.id.in_([trace.mail_id for trace in pending]))}
    now = env.clock.now()
    for trace in pending:
        mail = mails.get(trace.mail_id)
        if mail is not None and mail.state in ("outgoing", "sending"):
            continue
        if mail is not None and mail.state == "sent":
            values = {"state": "sent", "failure_type": None, "failure_reason": None}
        elif mail is not None:
            values = {"state": "error", "failure_type": mail.failure_type or "unknown",
                      "failure_reason": mail.failure_reason or f"The queued mail was set to {mail.state}."}
        else:
            values = {"state": "error", "failure_type": "unknown",
                      "failure_reason": "The queued mail was deleted before its result was known."}
        settled += MailingTrace.update(updated_at=now, **values).where(
            (MailingTrace.id == trace.id) & (MailingTrace.state == "outgoing")).execute()
    return settled
