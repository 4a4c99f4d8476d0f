"""A throwaway addon written as a third party would: tickets with a thread (for the chatter tests)."""
import peewee

from kernel import hookimpl
from kernel.db import BaseModel

from addons_mail.chatter.thread import ThreadMixin


class Ticket(ThreadMixin, BaseModel):
    model_name = "test.ticket"
    name = peewee.CharField()
    team = peewee.CharField(null=True)
    customer_email = peewee.CharField(null=True)

    @classmethod
    def message_new(cls, env, msg, defaults):
        values = {"name": msg.subject or "(no subject)", "customer_email": msg.from_email}
        values.update(defaults)
        return cls.create(**values)


class Project(ThreadMixin, BaseModel):
    model_name = "test.project"
    title = peewee.CharField()
    thread_name_field = "title"


@hookimpl
def register_models(register):
    register(Ticket)
    register(Project)
