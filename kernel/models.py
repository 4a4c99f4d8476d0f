"""The kernel's own records: companies, contacts, users, parameters, scheduled actions, addon state."""
import datetime

import peewee

from kernel.db import BaseModel


def normalize_email(email: str | None) -> str | None:
    """Lower-cased bare address (``"Mary" <Mary@X.com>`` -> ``mary@x.com``); None when empty."""
    from email.utils import parseaddr

    if not email:
        return None
    address = parseaddr(email)[1] or email
    address = address.strip().lower()
    return address or None


class Company(BaseModel):
    model_name = "res.company"
    name = peewee.CharField()
    email = peewee.CharField(null=True)


class Contact(BaseModel):
    """A person or company with a name and an email (the "Contacts record")."""

    model_name = "res.partner"
    name = peewee.CharField()
    email = peewee.CharField(null=True)
    email_normalized = peewee.CharField(null=True, index=True)
    company = peewee.ForeignKeyField(Company, null=True, backref="contacts", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=datetime.datetime.utcnow)

    def save(self, *args, **kwargs):
        self.email_normalized = normalize_email(self.email)
        return super().save(*args, **kwargs)

    @property
    def formatted_email(self) -> str:
        from email.utils import formataddr

        return formataddr((self.name, self.email)) if self.email else self.name


class User(BaseModel):
    """A login of the database, linked to a contact."""

    model_name = "res.users"
    login = peewee.CharField(unique=True)
    contact = peewee.ForeignKeyField(Contact, backref="users", on_delete="CASCADE")
    company = peewee.ForeignKeyField(Company, null=True, on_delete="SET NULL")
    notification_preference = peewee.CharField(default="email")  # "email" or "inbox"
    active = peewee.BooleanField(default=True)

    NOTIFICATION_PREFERENCES = ("email", "inbox")


class Parameter(BaseModel):
    """A system parameter (key/value); see :mod:`kernel.params`."""

    model_name = "ir.config_parameter"
    key = peewee.CharField(unique=True)
    value = peewee.TextField(null=True)


class ScheduledAction(BaseModel):
    """A job run by workers every ``interval_seconds``; the lease makes one worker run it at a time."""

    model_name = "ir.cron"
    name = peewee.CharField(unique=True)
    addon = peewee.CharField()
    function = peewee.CharField()  # "package.module:callable"
    description = peewee.TextField(default="")
    interval_seconds = peewee.IntegerField()
    next_run = peewee.DateTimeField()
    active = peewee.BooleanField(default=True)
    lease_owner = peewee.CharField(null=True)
    lease_until = peewee.DateTimeField(null=True)
    last_run = peewee.DateTimeField(null=True)
    last_duration = peewee.FloatField(null=True)
    last_error = peewee.TextField(null=True)
    run_count = peewee.IntegerField(default=0)


class SequenceCounter(BaseModel):
    """The last number handed out by a document sequence; see :mod:`kernel.sequences`."""

    model_name = "ir.sequence"
    code = peewee.CharField(unique=True)
    last_value = peewee.IntegerField(default=0)


class InstalledAddon(BaseModel):
    """Install state of an addon in this database."""

    model_name = "ir.module"
    name = peewee.CharField(unique=True)
    version = peewee.CharField()
    installed_at = peewee.DateTimeField(default=datetime.datetime.utcnow)


KERNEL_MODELS = [Company, Contact, User, Parameter, ScheduledAction, SequenceCounter, InstalledAddon]
