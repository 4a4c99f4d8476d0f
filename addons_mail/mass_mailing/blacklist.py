"""The blacklist: normalized addresses that receive no mass mailing, each change with a log note."""
import logging

from kernel.errors import UserError
from kernel.models import Contact, normalize_email

from addons_mail.mass_mailing.models import BlacklistEntry, MailingNote

log = logging.getLogger("juniper.mass_mailing.blacklist")


def _checked_address(email: str) -> str:
    address = normalize_email(email)
    if not address or "@" not in address or address.startswith("@") or address.endswith("@"):
        raise UserError(f"{email!r} is not an email address.", hint="Give an address such as mary@example.com.")
    return address


def _author(env) -> str | None:
    user = env.user
    return user.login if user is not None else None


def post_note(env, body: str, *, entry: BlacklistEntry | None = None, contact_email: str | None = None,
              author: str | None = None) -> None:
    """Log ``body`` on ``entry`` and on every contact whose address is ``contact_email``."""
    now = env.clock.now()
    if entry is not None:
        MailingNote.create(entry=entry, body=body, author=author, created_at=now)
    if contact_email:
        for contact in Contact.select(Contact.id).where(Contact.email_normalized == contact_email):
            MailingNote.create(contact=contact.id, body=body, author=author, created_at=now)


def add_to_blacklist(env, email: str, reason: str, *, author: str | None = None,
                     note: str | None = None) -> BlacklistEntry:
    """Blacklist ``email`` (normalized) with ``reason``; a log note on the entry (``note``, by default
    "Blacklisted: <reason>") says who and why.

    Adding an address that is already blacklisted only adds the note.
    """
    address = _checked_address(email)
    if not (reason or "").strip():
        raise UserError("A reason is required to blacklist an address.", hint="Pass --reason.")
    author = author or _author(env)
    now = env.clock.now()
    with env.atomic():
        entry = BlacklistEntry.get_or_none(BlacklistEntry.email == address)
        if entry is None:
            entry = BlacklistEntry.create(email=address, reason=reason, active=True, created_at=now, updated_at=now)
        elif not entry.active:
            entry.active, entry.reason, entry.updated_at = True, reason, now
            entry.save()
        post_note(env, note or f"Blacklisted: {reason}", entry=entry, author=author)
    log.info("blacklisted %s: %s", address, reason)
    return entry


def remove_from_blacklist(env, email: str, reason: str, *, author: str | None = None) -> BlacklistEntry:
    """Take ``email`` off the blacklist; the entry and its notes stay as history."""
    address = _checked_address(email)
    if not (reason or "").strip():
        raise UserError("A reason is required to take an address off the blacklist.", hint="Pass --reason.")
    with env.atomic():
        entry = BlacklistEntry.get_or_none((BlacklistEntry.email == address) & (BlacklistEntry.active == True))  # noqa: E712
        if entry is None:
            raise UserError(f"{address} is not blacklisted.", hint="See `juniper blacklist list`.", exit_code=2)
        entry.active, entry.updated_at = False, env.clock.now()
        entry.save()
        post_note(env, f"Removed from the blacklist: {reason}", entry=entry, author=author or _author(env))
    log.info("removed %s from the blacklist: %s", address, reason)
    return entry


def blacklisted_among(emails) -> set[str]:
    """The addresses of ``emails`` (normalized) that are blacklisted, in one query."""
    emails = [e for e in set(emails) if e]
    if not emails:
        return set()
    query = BlacklistEntry.select(BlacklistEntry.email).where(
        BlacklistEntry.email.in_(emails) & (BlacklistEntry.active == True))  # noqa: E712
    return {row.email for row in query}


def is_blacklisted(email: str) -> bool:
    address = normalize_email(email)
    return bool(address) and bool(blacklisted_among([address]))


def blacklist_rows(include_removed: bool = False) -> list[dict]:
    query = BlacklistEntry.select().order_by(BlacklistEntry.email)
    if not include_removed:
        query = query.where(BlacklistEntry.active == True)  # noqa: E712
    return [{"email": e.email, "reason": e.reason, "active": e.active, "created_at": e.created_at,
             "updated_at": e.updated_at} for e in query]


def blacklist_history(email: str) -> dict:
    """The entry of ``email`` (None when never blacklisted) and the log notes on it and its contacts."""
    address = _checked_address(email)
    entry = BlacklistEntry.get_or_none(BlacklistEntry.email == address)
    contacts = Contact.select(Contact.id).where(Contact.email_normalized == address)
    condition = MailingNote.contact.in_(contacts)
    if entry is not None:
        condition |= MailingNote.entry == entry.id
    notes = [{"date": note.created_at, "on": "blacklist entry" if note.entry_id else f"contact {note.contact_id}",
              "author": note.author, "note": note.body}
             for note in MailingNote.select().where(condition).order_by(MailingNote.created_at, MailingNote.id)]
    return {"email": address, "blacklisted": bool(entry and entry.active),
            "reason": entry.reason if entry else None, "notes": notes}
