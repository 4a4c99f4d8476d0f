"""Sending a mailing: recipients are read in batches by contact id, checked (missing or invalid
address, blacklist, opt-out, duplicate), rendered with the template compiled once, and queued with
their traces in one transaction per batch, through the dedicated server when it is configured.

A batch commits its mails, its traces and the mailing's cursor together, so a pause, a crash or a
second run never gives a recipient two traces, and a resumed mailing continues after the last
committed recipient. The state is re-read before each batch: ``juniper mailing pause`` from another
terminal stops the run after the batch in progress.
"""
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from email.utils import formataddr

import peewee

from kernel.db import bulk_insert
from kernel.errors import UserError

from addons_mail.mass_mailing.blacklist import blacklisted_among
from addons_mail.mass_mailing.dedicated_server import dedicated_mail_server
from addons_mail.mass_mailing.body_template import BodyTemplate, recipient_fields
from addons_mail.mass_mailing.mailings import finish_if_complete, get_mailing
from addons_mail.mass_mailing.models import Mailing, MailingTrace
from addons_mail.mass_mailing.recipients import count_recipients, recipient_batches
from addons_mail.mass_mailing.trace_updates import ORIGIN
from addons_mail.mass_mailing.unsubscribe_tokens import UnsubscribeLinks

log = logging.getLogger("juniper.mass_mailing.sending")

UNSUBSCRIBE_FOOTER = ('\n<p style="font-size:small;color:#888">'
                      '<a href="{url}">Unsubscribe</a> from these emails.</p>')


@dataclasses.dataclass
class SendReport:
    """What one run of :func:`send_mailing` did."""

    mailing_id: int
    state: str
    queued: int = 0
    cancelled: int = 0
    seconds: float = 0.0

    @property
    def recipients(self) -> int:
        return self.queued + self.cancelled


def _cancel_reason(row: dict, blacklisted: set[str], seen: set[str]) -> str | None:
    email = row["email_normalized"]
    if not email:
        return "mail_email_missing"
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain:
        return "mail_email_invalid"
    if email in blacklisted:
        return "mail_bl"
    if row.get("opt_out"):
        return "mail_optout"
    if email in seen:
        return "mail_dup"
    return None


CANCEL_REASONS = {
    "mail_email_missing": "The contact has no email address.",
    "mail_email_invalid": "The contact's email address is not valid.",
    "mail_bl": "The address is blacklisted.",
    "mail_optout": "The contact unsubscribed from this list.",
    "mail_dup": "The address already received this mailing.",
}


class MailingRenderer:
    """Everything shared by the recipients of one mailing, computed once; :meth:`queue_row` builds
    the queue row of one recipient."""

    def __init__(self, env, mailing: Mailing, server):
        self.env = env
        self.mailing = mailing
        self.server = server
        self.template = BodyTemplate(mailing.body_template)
        self.add_footer = "unsubscribe_url" not in mailing.body_template
        self.mailing_fields = {"subject": mailing.subject}
        self.id_domain = env.params.get("mail.catchall.domain") or "juniper.localhost"
        self.links = UnsubscribeLinks(env, mailing.id)

    def queue_row(self, contact: dict) -> dict:
        token = self.links.token(contact["id"])
        url = self.links.url(token)
        mailto = self.links.mailto(token)
        body = self.template.render(recipient_fields(contact["name"], contact["email"], contact["company"]),
                                    self.mailing_fields, url)
        if self.add_footer:
            body += UNSUBSCRIBE_FOOTER.format(url=url)
        targets = ([f"<mailto:{mailto}>"] if mailto else []) + [f"<{url}>"]
        return {
            "email_from": self.mailing.email_from,
            "email_to": formataddr((contact["name"] or "", contact["email_normalized"])),
            "subject": self.mailing.subject,
            "body_html": body,
            "headers": {
                "List-Unsubscribe": ", ".join(targets),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
                "X-Juniper-Mailing": str(self.mailing.id),
            },
            "message_id": f"<{secrets.token_hex(8)}.{self.mailing.id}-mailing@{self.id_domain}>",
            "server": self.server,
            "origin": ORIGIN,
            "send_now": False,
        }


def _already_traced(mailing_id: int, emails: list[str]) -> set[str]:
    if not emails:
        return set()
    query = MailingTrace.select(MailingTrace.email).where(
        (MailingTrace.mailing == mailing_id) & MailingTrace.email.in_(emails))
    return {row.email for row in query}


def _queue_batch(env, renderer: MailingRenderer, rows: list[dict]) -> tuple[int, int]:
    """Give every contact of ``rows`` a trace, and a queued mail when nothing stops it."""
    from addons_mail.mail_server.api import queue_mails

    mailing = renderer.mailing
    emails = [row["email_normalized"] for row in rows if row["email_normalized"]]
    blacklisted = blacklisted_among(emails)
    seen = _already_traced(mailing.id, emails)
    now = env.clock.now()
    mail_rows, traces, cancelled = [], [], []
    for row in rows:
        reason = _cancel_reason(row, blacklisted, seen)
        trace = {"mailing": mailing.id, "contact": row["id"], "email": row["email_normalized"],
                 "created_at": now, "updated_at": now}
        if reason:
            trace.update(state="cancel", failure_type=reason, failure_reason=CANCEL_REASONS[reason])
            cancelled.append(trace)
            continue
        seen.add(row["email_normalized"])
        mail_row = renderer.queue_row(row)
        mail_rows.append(mail_row)
        trace.update(state="outgoing", message_id=mail_row["message_id"], failure_type=None, failure_reason=None)
        traces.append(trace)
    mail_ids = queue_mails(env, mail_rows) if mail_rows else []
    for trace, mail_id in zip(traces, mail_ids):
        trace["mail_id"] = mail_id
    for trace in cancelled:
        trace.update(mail_id=None, message_id=None)
    all_traces = traces + cancelled
    for start in range(0, len(all_traces), 500):
        bulk_insert(env.db, MailingTrace, all_traces[start:start + 500])
    return len(traces), len(cancelled)


def _claim_for_sending(env, mailing: Mailing) -> bool:
    """Move a due queued mailing to ``sending``; the conditional update lets one worker win."""
    now = env.clock.now()
    due = (Mailing.scheduled_at.is_null(True)) | (Mailing.scheduled_at <= now)
    return (Mailing.update(state="sending", started_at=peewee.fn.COALESCE(Mailing.started_at, now))
            .where((Mailing.id == mailing.id) & (Mailing.state == "queued") & due).execute()) > 0


def send_mailing(env, mailing_id: int, *, batch_size: int | None = None, drive_queue: bool = True,
                 on_batch: Callable[[int], None] | None = None) -> SendReport:
    """Send (or continue) a queued or draft mailing that is due.

    Recipients are processed ``batch_size`` at a time (``mass_mailing.batch.size``); after each
    batch ``on_batch(number of recipients)`` is called and, with ``drive_queue``, the mail queue is
    run for as many mails so they leave while the next batch is prepared. Returns a report whose
    ``state`` is the mailing's state at the end (``paused`` when someone paused it meanwhile).
    """
    from addons_mail.mail_server.api import process_queue

    started = time.perf_counter()
    mailing = get_mailing(mailing_id)
    if mailing.state == "draft":
        Mailing.update(state="queued").where((Mailing.id == mailing_id) & (Mailing.state == "draft")).execute()
        mailing = get_mailing(mailing_id)
    if mailing.state != "queued":
        raise UserError(f"Mailing {mailing_id} is {mailing.state}; only a draft or queued mailing can be sent.",
                        hint="Resume a paused mailing with `juniper mailing resume`.")
    if mailing.scheduled_at and mailing.scheduled_at > env.clock.now():
        return SendReport(mailing_id, "queued")
    server = dedicated_mail_server(env)
    renderer = MailingRenderer(env, mailing, server)
    batch_size = batch_size or env.params.get("mass_mailing.batch.size") or 1000
    if not _claim_for_sending(env, mailing):
        raise UserError(f"Mailing {mailing_id} is already being sent by another worker.")
    report = SendReport(mailing_id, "sending")
    cursor = mailing.last_recipient_id
    for rows in recipient_batches(mailing, batch_size, after_id=cursor):
        with env.atomic():
            state = Mailing.select(Mailing.state).where(Mailing.id == mailing_id).scalar()
            if state != "sending":
                report.state = state
                break
            queued, cancelled = _queue_batch(env, renderer, rows)
            Mailing.update(last_recipient_id=rows[-1]["id"]).where(Mailing.id == mailing_id).execute()
        report.queued += queued
        report.cancelled += cancelled
        if drive_queue and queued:
            process_queue(env, limit=queued)
        if on_batch:
            on_batch(len(rows))
    else:
        Mailing.update(recipients_listed=True).where(
            (Mailing.id == mailing_id) & (Mailing.state == "sending")).execute()
        if drive_queue:
            _drain_queue(env, mailing_id, batch_size)
        finish_if_complete(env, mailing_id)
        report.state = get_mailing(mailing_id).state
    report.seconds = time.perf_counter() - started
    log.info("mailing %s: %s queued, %s cancelled in %.1f s (%s)", mailing_id, report.queued, report.cancelled,
             report.seconds, report.state)
    return report


def _drain_queue(env, mailing_id: int, batch_size: int) -> None:
    """Run the queue while it makes progress and mails of this mailing are still outgoing (other mail
    queued meanwhile may have taken their turn); mails waiting for a retry are left to the worker."""
    from addons_mail.mail_server.api import process_queue

    outgoing = MailingTrace.select().where((MailingTrace.mailing == mailing_id) & (MailingTrace.state == "outgoing"))
    while outgoing.exists():
        stats = process_queue(env, limit=batch_size)
        if not (stats.sent or stats.failed):
            return


def remaining_recipients(mailing_id: int) -> int:
    mailing = get_mailing(mailing_id)
    return 0 if mailing.recipients_listed else count_recipients(mailing, mailing.last_recipient_id)


def retry_failed_recipients(env, mailing_id: int, *, drive_queue: bool = True) -> int:
    """Queue again the recipients whose trace is ``error`` (and only them); return how many.

    Their traces go back to ``outgoing`` with the new mail, and a done mailing back to ``sending``.
    """
    from addons_mail.mail_server.api import process_queue, queue_mails
    from kernel.models import Company, Contact

    mailing = get_mailing(mailing_id)
    if mailing.state not in ("sending", "done", "paused"):
        raise UserError(f"Mailing {mailing_id} is {mailing.state}; it has no failed recipients to retry yet.")
    renderer = MailingRenderer(env, mailing, dedicated_mail_server(env))
    retried = 0
    last_trace_id = 0
    while True:
        with env.atomic():
            failed = list(MailingTrace.select(MailingTrace.id, MailingTrace.contact, MailingTrace.email)
                          .where((MailingTrace.mailing == mailing_id) & (MailingTrace.state == "error")
                                 & (MailingTrace.id > last_trace_id))
                          .order_by(MailingTrace.id).limit(500))
            if not failed:
                break
            last_trace_id = failed[-1].id
            blacklisted = blacklisted_among([trace.email for trace in failed])
            contacts = {row["id"]: row for row in Contact.select(
                Contact.id, Contact.name, Contact.email, Contact.email_normalized, Company.name.alias("company"))
                .join(Company, peewee.JOIN.LEFT_OUTER, on=(Contact.company == Company.id))
                .where(Contact.id.in_([t.contact_id for t in failed if t.contact_id])).dicts()}
            todo = []
            for trace in failed:
                contact = contacts.get(trace.contact_id)
                if contact is None or trace.email in blacklisted or contact["email_normalized"] != trace.email:
                    reason = "mail_bl" if trace.email in blacklisted else "mail_email_missing"
                    MailingTrace.update(state="cancel", failure_type=reason, updated_at=env.clock.now(),
                                        failure_reason=CANCEL_REASONS[reason] if contact else
                                        "The contact was deleted or changed address.").where(
                        MailingTrace.id == trace.id).execute()
                    continue
                todo.append((trace, renderer.queue_row(contact)))
            mail_ids = queue_mails(env, [row for _trace, row in todo]) if todo else []
            for (trace, row), mail_id in zip(todo, mail_ids):
                MailingTrace.update(state="outgoing", mail_id=mail_id, message_id=row["message_id"], failure_type=None,
                                    failure_reason=None, updated_at=env.clock.now()).where(
                    MailingTrace.id == trace.id).execute()
            retried += len(todo)
            if todo:
                Mailing.update(state="sending", finished_at=None).where(
                    (Mailing.id == mailing_id) & (Mailing.state == "done")).execute()
    if drive_queue and retried:
        process_queue(env, limit=retried)
    return retried
