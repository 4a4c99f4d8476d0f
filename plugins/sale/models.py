"""Sales orders: numbered SO0001, SO0002, ...; each a thread the customer follows."""

import peewee

from kernel.db import BaseModel
from kernel.errors import UserError
from kernel.money import parse_amount
from kernel.sequences import next_number
from kernel.models import Contact

from addons_mail.chatter.thread import ThreadMixin, find_or_create_contact, follow

STATES = ("draft", "sent", "sale", "cancel")
NUMBER_PREFIX = "SO"
NUMBER_WIDTH = 4


class SaleOrder(ThreadMixin, BaseModel):
    model_name = "sale.order"
    name = peewee.CharField(unique=True)
    customer = peewee.ForeignKeyField(Contact, on_delete="RESTRICT")
    amount = peewee.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    state = peewee.CharField(default="draft")
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "sale_order"


def next_order_number(env) -> str:
    """The next number of the ``sale.order`` sequence: SO0001, SO0002, ..."""
    return next_number(env, "sale.order", NUMBER_PREFIX, NUMBER_WIDTH)


def create_order(env, customer: str | Contact, amount, *, followers=(), state: str = "draft") -> SaleOrder:
    """Create the next sales order for ``customer`` (a contact, or an email with an optional display
    name, created when unknown); the customer and ``followers`` follow it."""
    from email.utils import parseaddr

    if state not in STATES:
        raise UserError(f"Unknown state {state!r}.", hint=f"Use one of: {', '.join(STATES)}.")
    amount = parse_amount(amount)
    with env.atomic():
        if not isinstance(customer, Contact):
            display_name, address = parseaddr(customer or "")
            customer = find_or_create_contact(env, address or customer or "", display_name or None)
        order = SaleOrder.create(name=next_order_number(env), customer=customer, amount=amount, state=state,
                                 created_at=env.clock.now())
        follow(env, order, [customer, *followers])
    return order
