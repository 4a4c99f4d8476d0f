"""Unsubscribing a recipient from a signed token (one-click POST, confirmation form, or mailto).

A mailing sent to a list opts the contact out of that list (later mailings to the list skip them
with ``mail_optout``); a mailing sent to contacts by a query blacklists the address, since there is
no list to leave. Either way a log note on the contact records it.
"""
import dataclasses

from kernel.models import Contact

from addons_mail.mass_mailing.blacklist import add_to_blacklist, blacklisted_among, post_note
from addons_mail.mass_mailing.models import Mailing, MailingListMember, MailingNote
from addons_mail.mass_mailing.unsubscribe_tokens import read_unsubscribe_token


@dataclasses.dataclass(frozen=True)
class Unsubscription:
    email: str
    mailing_id: int
    list_name: str | None
    already: bool
    channel: str = "one-click"


def describe_token(env, token: str) -> tuple[Mailing, Contact] | None:
    """The mailing and contact of a genuine token (None when forged, malformed or deleted)."""
    target = read_unsubscribe_token(env, token)
    if target is None:
        return None
    mailing = Mailing.get_or_none(Mailing.id == target.mailing_id)
    contact = Contact.get_or_none(Contact.id == target.contact_id)
    if mailing is None or contact is None:
        return None
    return mailing, contact


def unsubscribe(env, token: str, channel: str) -> Unsubscription | None:
    """Opt out the recipient of ``token`` (``channel``: "one-click" or "email"); None when the token
    is not genuine. Unsubscribing twice changes nothing the second time; the first time fires
    ``after_mailing_unsubscribed``."""
    found = describe_token(env, token)
    if found is None:
        return None
    mailing, contact = found
    email = contact.email_normalized or ""
    with env.atomic():
        if mailing.mailing_list_id:
            member = MailingListMember.get_or_none((MailingListMember.mailing_list == mailing.mailing_list_id)
                                                   & (MailingListMember.contact == contact.id))
            already = member is None or member.opt_out
            if not already:
                MailingListMember.update(opt_out=True, opt_out_at=env.clock.now()).where(
                    MailingListMember.id == member.id).execute()
                note = (f"Unsubscribed from the list {mailing.mailing_list.name!r} ({channel}, "
                        f"mailing #{mailing.id}).")
                MailingNote.create(contact=contact.id, body=note, author=email, created_at=env.clock.now())
            done = Unsubscription(email, mailing.id, mailing.mailing_list.name, already, channel)
        else:
            already = not email or bool(blacklisted_among([email]))
            if not already:
                reason = f"Unsubscribed from mailing #{mailing.id} ({channel})."
                add_to_blacklist(env, email, reason, author=email)
                post_note(env, reason, contact_email=email, author=email)
            done = Unsubscription(email, mailing.id, None, already, channel)
        if not done.already:
            env.pm.hook.after_mailing_unsubscribed(env=env, unsubscription=done)
    return done

