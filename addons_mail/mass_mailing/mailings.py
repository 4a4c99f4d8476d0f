"""Creating mailings and moving them through their states: draft → queued → sending → done, with
pause and resume, retry of failed recipients, and the status of each.

Sending itself (rendering and queueing recipients in batches) is :mod:`.sending`.
"""
import datetime

import peewee

from kernel.errors import NotFound, UserError
from kernel.models import normalize_email

from addons_mail.mass_mailing.body_template import check_body_template
from addons_mail.mass_mailing.models import TRACE_STATES, Mailing, MailingTrace
from addons_mail.mass_mailing.recipients import contacts_filter, find_mailing_list


def get_mailing(mailing_id: int) -> Mailing:
    mailing = Mailing.get_or_none(Mailing.id == mailing_id)
    if mailing is None:
        raise NotFound(f"No mailing with id {mailing_id}.", hint="See `juniper mailing list`.")
    return mailing


def create_mailing(env, *, subject: str, email_from: str, body_template: str, contacts_query: str | None = None,
                   list_name: str | None = None, scheduled_at: datetime.datetime | None = None) -> Mailing:
    """A draft mailing to the contacts matching ``contacts_query`` or to the list ``list_name``.

    The body is checked now (syntax, sandbox, field names) against a sample recipient.
    """
    if bool(contacts_query) == bool(list_name):
        raise UserError("A mailing goes either to contacts by a query or to a mailing list.",
                        hint="Give exactly one of --contacts QUERY and --list NAME.")
    if not (subject or "").strip():
        raise UserError("A mailing needs a subject.", hint="Pass --subject.")
    if "\r" in subject or "\n" in subject:
        raise UserError("The subject may not contain line breaks.", hint="Write the subject on one line.")
    if not normalize_email(email_from) or "@" not in normalize_email(email_from):
        raise UserError(f"The From {email_from!r} is not an email address.",
                        hint='Give an address such as "Newsletter" <news@example.com>.')
    check_body_template(body_template, subject)
    mailing_list = None
    if list_name:
        mailing_list = find_mailing_list(list_name)
    else:
        contacts_filter(contacts_query)
    return Mailing.create(subject=subject.strip(), email_from=email_from, body_template=body_template,
                          contacts_query=contacts_query, mailing_list=mailing_list, scheduled_at=scheduled_at,
                          state="draft", created_at=env.clock.now())


def queue_mailing(env, mailing: Mailing) -> Mailing:
    """Mark a draft mailing ``queued``: a worker (or ``mailing send``) starts it once it is due."""
    if mailing.state != "draft":
        raise UserError(f"Mailing {mailing.id} is {mailing.state}, not a draft.",
                        hint="Use `juniper mailing resume` for a paused mailing.")
    Mailing.update(state="queued").where((Mailing.id == mailing.id) & (Mailing.state == "draft")).execute()
    return get_mailing(mailing.id)


def pause_mailing(env, mailing_id: int) -> Mailing:
    """Stop a queued or sending mailing after the batch in progress; mails already queued still go."""
    mailing = get_mailing(mailing_id)
    if mailing.state not in ("queued", "sending"):
        raise UserError(f"Mailing {mailing_id} is {mailing.state}; only a queued or sending mailing can be paused.")
    Mailing.update(state="paused").where((Mailing.id == mailing_id) & Mailing.state.in_(["queued", "sending"])).execute()
    return get_mailing(mailing_id)


def resume_mailing(env, mailing_id: int) -> Mailing:
    """Put a paused mailing back in the queue; it continues after the last recipient it reached."""
    mailing = get_mailing(mailing_id)
    if mailing.state != "paused":
        raise UserError(f"Mailing {mailing_id} is {mailing.state}, not paused.")
    Mailing.update(state="queued").where((Mailing.id == mailing_id) & (Mailing.state == "paused")).execute()
    return get_mailing(mailing_id)


def trace_counts(mailing_id: int) -> dict[str, int]:
    counts = dict.fromkeys(TRACE_STATES, 0)
    query = (MailingTrace.select(MailingTrace.state, peewee.fn.COUNT(MailingTrace.id).alias("n"))
             .where(MailingTrace.mailing == mailing_id).group_by(MailingTrace.state).tuples())
    for state, number in query:
        counts[state] = number
    return counts


def failure_counts(mailing_id: int) -> dict[str, int]:
    query = (MailingTrace.select(MailingTrace.failure_type, peewee.fn.COUNT(MailingTrace.id))
             .where((MailingTrace.mailing == mailing_id) & MailingTrace.failure_type.is_null(False))
             .group_by(MailingTrace.failure_type).tuples())
    return dict(query)


def finish_if_complete(env, mailing_id: int) -> bool:
    """Mark a sending mailing ``done`` once every recipient has a trace and none is still outgoing."""
    pending = MailingTrace.select().where((MailingTrace.mailing == mailing_id) & (MailingTrace.state == "outgoing"))
    updated = (Mailing.update(state="done", finished_at=env.clock.now())
               .where((Mailing.id == mailing_id) & (Mailing.state == "sending")
                      & (Mailing.recipients_listed == True) & ~peewee.fn.EXISTS(pending))  # noqa: E712
               .execute())
    return updated > 0


def mailing_status(mailing_id: int) -> dict:
    mailing = get_mailing(mailing_id)
    return {
        "id": mailing.id, "subject": mailing.subject, "from": mailing.email_from, "state": mailing.state,
        "recipients": mailing.mailing_list.name if mailing.mailing_list_id else mailing.contacts_query,
        "recipients_kind": "list" if mailing.mailing_list_id else "contacts",
        "scheduled_at": mailing.scheduled_at, "started_at": mailing.started_at, "finished_at": mailing.finished_at,
        "all_recipients_traced": mailing.recipients_listed, "traces": trace_counts(mailing.id),
        "failures": failure_counts(mailing.id),
    }


def mailing_rows() -> list[dict]:
    rows = []
    for mailing in Mailing.select().order_by(Mailing.id.desc()):
        counts = trace_counts(mailing.id)
        rows.append({"id": mailing.id, "state": mailing.state, "subject": mailing.subject, "from": mailing.email_from,
                     "recipients": mailing.mailing_list.name if mailing.mailing_list_id else mailing.contacts_query,
                     "scheduled_at": mailing.scheduled_at, "traces": sum(counts.values()), **counts})
    return rows
