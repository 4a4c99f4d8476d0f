"""Leads: prospective deals, each a thread; created from the CLI or by an email to the sales alias."""
import peewee

from kernel.db import BaseModel
from kernel.errors import UserError
from kernel.models import Contact

from addons_mail.chatter.thread import ThreadMixin, find_or_create_contact, follow

STAGES = ("new", "qualified", "proposition", "won", "lost")


class Lead(ThreadMixin, BaseModel):
    """A lead: who (contact, email_from), what (name, description) and how far (stage)."""

    model_name = "crm.lead"
    name = peewee.CharField()
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    email_from = peewee.CharField(null=True)
    description = peewee.TextField(default="")
    stage = peewee.CharField(default="new")
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "crm_lead"

    @classmethod
    def message_new(cls, env, msg, defaults: dict):
        """A lead from an email: the subject names it, the sender is its contact (matched by email,
        created when unknown) and follows it, the body is its description."""
        contact = find_or_create_contact(env, msg.from_email, msg.from_name or None) if msg.from_email else None
        values = {
            "name": msg.subject or f"Email from {msg.from_email or 'an unknown sender'}",
            "contact": contact,
            "email_from": msg.from_email or None,
            "description": (msg.body_text or "").strip(),
            "created_at": env.clock.now(),
        }
        values.update(defaults or {})
        lead = cls.create(**values)
        if contact is not None:
            follow(env, lead, contact)
        return lead


def create_lead(env, name: str, *, email: str | None = None, description: str = "",
                followers=(), stage: str = "new") -> Lead:
    """Create a lead; ``email`` (``"Name <addr>"`` allowed) becomes its contact, who follows it with
    ``followers`` (emails or contacts, created when unknown)."""
    name = (name or "").strip()
    if not name:
        raise UserError("A lead needs a name.", hint="Give it as the first argument, e.g. \"Office chairs\".")
    if stage not in STAGES:
        raise UserError(f"Unknown stage {stage!r}.", hint=f"Use one of: {', '.join(STAGES)}.")
    with env.atomic():
        contact = _contact_from(env, email) if email else None
        lead = Lead.create(name=name, contact=contact, email_from=contact.email if contact else None,
                           description=description or "", stage=stage, created_at=env.clock.now())
        follow(env, lead, ([contact] if contact else []) + list(followers))
    return lead


def _contact_from(env, text: str) -> Contact:
    from email.utils import parseaddr

    display_name, address = parseaddr(text)
    return find_or_create_contact(env, address or text, display_name or None)
