"""Customer invoices: numbered INV/<year>/0001 per year; each a thread the customer follows."""

import peewee

from kernel.db import BaseModel
from kernel.errors import UserError
from kernel.money import parse_amount
from kernel.sequences import next_number
from kernel.models import Contact

from addons_mail.chatter.thread import ThreadMixin, find_or_create_contact, follow

STATES = ("draft", "posted", "paid", "cancel")
NUMBER_WIDTH = 4


class Invoice(ThreadMixin, BaseModel):
    model_name = "account.move"
    name = peewee.CharField(unique=True)
    customer = peewee.ForeignKeyField(Contact, on_delete="RESTRICT")
    amount = peewee.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    state = peewee.CharField(default="draft")
    invoice_date = peewee.DateField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "account_move"


def next_invoice_number(env, year: int) -> str:
    """The next number of this year's invoice sequence: INV/<year>/0001, ... (restarts each year)."""
    return next_number(env, f"account.move.{year}", f"INV/{year}/", NUMBER_WIDTH)


def create_invoice(env, customer: str | Contact, amount, *, followers=(), state: str = "draft") -> Invoice:
    """Create the next invoice of this year for ``customer`` (a contact, or an email with an optional
    display name, created when unknown); the customer and ``followers`` follow it."""
    from email.utils import parseaddr

    if state not in STATES:
        raise UserError(f"Unknown state {state!r}.", hint=f"Use one of: {', '.join(STATES)}.")
    amount = parse_amount(amount)
    now = env.clock.now()
    with env.atomic():
        if not isinstance(customer, Contact):
            display_name, address = parseaddr(customer or "")
            customer = find_or_create_contact(env, address or customer or "", display_name or None)
        invoice = Invoice.create(name=next_invoice_number(env, now.year), customer=customer, amount=amount,
                                 state=state, invoice_date=now.date(), created_at=now)
        follow(env, invoice, [customer, *followers])
    return invoice
