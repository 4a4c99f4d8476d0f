"""Threads: the mixin that turns any document into a discussion, and the public API to use it.

A business addon writes ``class Lead(ThreadMixin, BaseModel)`` with a ``model_name`` and a ``name``
field; then :func:`message_post`, :func:`follow` and the gateway (replies, aliases) work on its
records. Messages, followers and notifications live in the chatter's own tables, keyed by
``(model, res_id)``, so the mixin adds no column to the document.
"""
from __future__ import annotations

import secrets
import socket
from collections.abc import Iterable

from kernel.errors import NotFound, UserError
from kernel.models import Contact, normalize_email

from addons_mail.chatter.incoming import text_to_html
from addons_mail.chatter.models import SUBTYPES, Follower, Message, MessageAttachment
from addons_mail.chatter.sanitize import sanitize_html

__all__ = [
    "ThreadMixin",
    "find_or_create_contact",
    "follow",
    "followers_of",
    "generate_message_id",
    "message_new",
    "message_post",
    "messages_of",
    "record_of",
    "thread_model",
    "unfollow",
]


class ThreadMixin:
    """Mixin of a document that has a thread (subclass it together with ``kernel.db.BaseModel``).

    Override ``thread_name_field`` when the document's title is not in ``name``, and
    :meth:`message_new` to fill more fields from an email that creates a document.
    """

    thread_name_field = "name"

    def thread_display_name(self) -> str:
        """The document's title (used as default subject and in the Reply-To display name)."""
        value = getattr(self, self.thread_name_field, None)
        return str(value) if value else f"{self.model_name} #{self.id}"

    @classmethod
    def message_new(cls, env, msg, defaults: dict):
        """Create the document for an email that arrives on an alias of this model.

        ``msg`` is the :class:`~addons_mail.chatter.incoming.IncomingMessage`; ``defaults`` are the
        alias defaults. The default fills the title field with the subject. Return the record.
        """
        values = {cls.thread_name_field: msg.subject or "(no subject)"}
        values.update(defaults or {})
        return cls.create(**values)

    def message_post(self, env, body: str, **options) -> Message:
        """Shortcut for :func:`message_post` on this record."""
        return message_post(env, self, body, **options)

    def follow(self, env, contacts, subtypes=None) -> int:
        """Shortcut for :func:`follow` on this record."""
        return follow(env, self, contacts, subtypes)


# -- looking up threads ------------------------------------------------------------------------

def thread_model(env, model_name: str) -> type:
    """The model class ``model_name``; a clear error when it is unknown or has no thread."""
    model = env[model_name]
    if not (isinstance(model, type) and issubclass(model, ThreadMixin)):
        raise UserError(f"The model {model_name!r} has no thread.",
                        hint="Use a model of an addon whose documents have a chatter.")
    return model


def record_of(env, model_name: str, res_id: int):
    """The document ``model_name`` #``res_id``; NotFound when it does not exist."""
    model = thread_model(env, model_name)
    record = model.get_or_none(model.id == res_id)
    if record is None:
        raise NotFound(f"No {model_name} with id {res_id}.")
    return record


def messages_of(record) -> list[Message]:
    """The messages of a document's thread, oldest first."""
    return list(Message.select().where((Message.model == record.model_name) & (Message.res_id == record.id))
                .order_by(Message.date, Message.id))


def followers_of(record) -> list[Follower]:
    """The followers of a document (with their contact)."""
    return list(Follower.select(Follower, Contact).join(Contact)
                .where((Follower.model == record.model_name) & (Follower.res_id == record.id))
                .order_by(Follower.id))


# -- contacts ----------------------------------------------------------------------------------

def contact_by_email(env, normalized: str | None) -> Contact | None:
    """The first contact whose normalized email is ``normalized``; remembered for the transaction
    (the gateway asks for the sender several times while routing one message)."""
    if not normalized:
        return None
    cache = env.transaction_cache
    key = ("contact", normalized)
    if cache is not None and key in cache:
        return cache[key]
    contact = Contact.select().where(Contact.email_normalized == normalized).order_by(Contact.id).first()
    if cache is not None:
        cache[key] = contact
    return contact


def find_or_create_contact(env, email: str, name: str | None = None) -> Contact:
    """The first contact with this email, else a new one named ``name`` (or the address's local part)."""
    normalized = normalize_email(email)
    if not normalized or "@" not in normalized:
        raise UserError(f"{email!r} is not an email address.")
    contact = contact_by_email(env, normalized)
    if contact is None:
        contact = Contact.create(name=name or normalized.split("@")[0], email=email, company=env.company)
        if env.transaction_cache is not None:
            env.transaction_cache[("contact", normalized)] = contact
    return contact


def _contacts_from(env, contacts) -> list[Contact]:
    if isinstance(contacts, (Contact, str)):
        contacts = [contacts]
    found = []
    for item in contacts:
        found.append(item if isinstance(item, Contact) else find_or_create_contact(env, item))
    return found


# -- followers ---------------------------------------------------------------------------------

def follow(env, record, contacts: Contact | str | Iterable[Contact | str], subtypes: Iterable[str] | None = None) -> int:
    """Subscribe contacts (records or emails, created when unknown) to the thread of ``record``.

    ``subtypes`` defaults to every subtype (``comment`` and ``note``; notes reach only users).
    Following twice changes nothing. Returns the number of new followers.
    """
    subtypes = list(subtypes) if subtypes is not None else list(SUBTYPES)
    unknown = [s for s in subtypes if s not in SUBTYPES]
    if unknown:
        raise UserError(f"Unknown subtype {unknown[0]!r}.", hint=f"Use one of: {', '.join(SUBTYPES)}.")
    with env.atomic():
        targets = _contacts_from(env, contacts)
        if not targets:
            return 0
        rows = [{"model": record.model_name, "res_id": record.id, "contact": c.id, "subtypes": subtypes}
                for c in {c.id: c for c in targets}.values()]
        # The unique (model, res_id, contact) index skips those who follow already: one statement.
        added = Follower.insert_many(rows).on_conflict_ignore().as_rowcount().execute()
    return added


def unfollow(env, record, contacts) -> int:
    """Unsubscribe contacts (records or emails) from ``record``; returns how many were following."""
    if isinstance(contacts, (Contact, str)):
        contacts = [contacts]
    ids, emails = [], []
    for item in contacts:
        (ids if isinstance(item, Contact) else emails).append(item.id if isinstance(item, Contact)
                                                              else normalize_email(item))
    condition = Follower.contact.in_(ids)
    if emails:
        condition |= Follower.contact.in_(Contact.select(Contact.id).where(Contact.email_normalized.in_(emails)))
    return Follower.delete().where((Follower.model == record.model_name) & (Follower.res_id == record.id)
                                   & condition).execute()


# -- posting -----------------------------------------------------------------------------------

def generate_message_id(env, record) -> str:
    """A new Message-Id ``<random-juniper-<res_id>-<model>@host>`` (SPEC §4)."""
    host = env.params.get("mail.catchall.domain") or socket.gethostname() or "localhost"
    return f"<{secrets.token_hex(10)}-juniper-{record.id}-{record.model_name}@{host}>"


def _author_of(env, author) -> tuple[Contact | None, str | None, str | None]:
    """(contact, email, display name) of an author given as a contact, an email, or None (the user)."""
    if author is None:
        user = env.user
        contact = user.contact if user is not None else None
        return contact, contact.email if contact else None, contact.name if contact else None
    if isinstance(author, Contact):
        return author, author.email, author.name
    from email.utils import parseaddr

    if "@" not in str(author):  # a name without an address (an incoming mail with no usable From)
        return None, None, str(author).strip() or None
    name, address = parseaddr(str(author))
    normalized = normalize_email(address or str(author))
    contact = contact_by_email(env, normalized)
    return contact, (address or str(author)).strip() or None, name or None


def message_post(env, record, body: str, *, author: Contact | str | None = None, subject: str | None = None,
                 subtype: str = "comment", message_type: str = "comment", parent: Message | None = None,
                 message_id: str | None = None, attachments=(), body_is_text: bool = False,
                 date=None, notify: bool = True, is_auto_reply: bool = False, gateway_route: str | None = None,
                 send_now: bool = True) -> Message:
    """Post a message on the thread of ``record`` and notify its followers; return the message.

    ``body`` is HTML (sanitized before it is stored), or plain text with ``body_is_text``.
    ``author`` is a contact, an email (matched to a contact when one has it), a bare name (no
    address) or None for the current user. ``subtype`` ``comment`` notifies every follower of it, ``note`` only followers who are
    users; the author is never notified. ``attachments`` is a list of ``(filename, content, mimetype)``
    or :class:`~addons_mail.chatter.incoming.Attachment`. ``notify=False`` stores without notifying
    (auto-replies). Email notifications are queued in one batch, sent after the commit when
    ``send_now``.
    """
    from addons_mail.chatter.notify import notify_followers

    if subtype not in SUBTYPES:
        raise UserError(f"Unknown subtype {subtype!r}.", hint=f"Use one of: {', '.join(SUBTYPES)}.")
    if not isinstance(record, ThreadMixin):
        raise UserError(f"A {type(record).__name__} has no thread.")
    body_html = text_to_html(body or "") if body_is_text else sanitize_html(body or "")
    with env.atomic():
        contact, author_email, author_name = _author_of(env, author)
        message = Message.create(
            model=record.model_name, res_id=record.id, author=contact, author_email=normalize_email(author_email),
            author_name=author_name, subtype=subtype, message_type=message_type, subject=subject,
            body_html=body_html, message_id=message_id or generate_message_id(env, record), parent=parent,
            date=date or env.clock.now(), is_auto_reply=is_auto_reply, gateway_route=gateway_route,
        )
        _store_attachments(message, attachments)
        if notify:
            notify_followers(env, message, record, send_now=send_now)
        env.pm.hook.after_message_posted(env=env, message=message)
    return message


def _store_attachments(message: Message, attachments) -> None:
    rows = []
    for item in attachments or ():
        if hasattr(item, "content_type"):
            rows.append({"message": message.id, "filename": item.filename, "mimetype": item.content_type,
                         "content": item.content, "content_id": item.content_id})
        else:
            filename, content, mimetype = item
            rows.append({"message": message.id, "filename": filename, "mimetype": mimetype, "content": content})
    if rows:
        MessageAttachment.insert_many(rows).execute()


def message_new(env, record_model: type, msg, defaults: dict | None = None):
    """Create a document of ``record_model`` from the incoming ``msg`` (through the model's own
    :meth:`ThreadMixin.message_new`, with the alias ``defaults``) and return it. The gateway then
    posts the email on it."""
    if not (isinstance(record_model, type) and issubclass(record_model, ThreadMixin)):
        raise UserError(f"The model {getattr(record_model, 'model_name', record_model)!r} has no thread.")
    return record_model.message_new(env, msg, dict(defaults or {}))
