"""Who a mailing goes to: a contacts query or a mailing list, read in batches by contact id.

A contacts query is a list of terms, all of which must hold (``shlex`` quoting for spaces):
``field=value`` (equal, ignoring case), ``field~value`` (contains, ignoring case) with ``field`` one of
``name``, ``email``, ``company``; a bare word matches the name or the email; ``all`` (or ``*``)
matches every contact.
"""
import shlex
from collections.abc import Iterator

import peewee

from kernel.errors import UserError
from kernel.models import Company, Contact

from addons_mail.mass_mailing.models import Mailing, MailingList, MailingListMember

QUERY_FIELDS = {"name": Contact.name, "email": Contact.email_normalized, "company": Company.name}
QUERY_HELP = "Use terms such as email~@example.com, name=\"Ada Lovelace\", company~Acme, or all."


def contacts_filter(query: str) -> peewee.Expression | None:
    """The WHERE expression of a contacts query (None: every contact); a clear error when malformed."""
    try:
        terms = shlex.split(query or "")
    except ValueError as exc:
        raise UserError(f"The contacts query {query!r} cannot be read: {exc}.", hint=QUERY_HELP) from None
    if not terms:
        raise UserError("The contacts query is empty.", hint=QUERY_HELP)
    expression = None
    for term in terms:
        if term in ("all", "*"):
            continue
        operator = next((op for op in ("=", "~") if op in term), None)
        if operator is None:
            word = term.lower()
            condition = peewee.fn.LOWER(Contact.name).contains(word) | Contact.email_normalized.contains(word)
        else:
            field, _, value = term.partition(operator)
            column = QUERY_FIELDS.get(field.strip().lower())
            if column is None:
                raise UserError(f"The contacts query has an unknown field {field!r}.", hint=QUERY_HELP)
            value = value.strip().lower()
            lowered = peewee.fn.LOWER(column)
            condition = (lowered == value) if operator == "=" else lowered.contains(value)
        expression = condition if expression is None else (expression & condition)
    return expression


def find_mailing_list(name: str) -> MailingList:
    mailing_list = MailingList.get_or_none(MailingList.name == name)
    if mailing_list is None:
        raise UserError(f"No mailing list named {name!r}.", hint="See `juniper mailing lists`.", exit_code=2)
    return mailing_list


def _recipient_query(mailing: Mailing):
    columns = [Contact.id, Contact.name, Contact.email, Contact.email_normalized, Company.name.alias("company")]
    if mailing.mailing_list_id:
        query = (Contact.select(*columns, MailingListMember.opt_out)
                 .join(MailingListMember, on=(MailingListMember.contact == Contact.id))
                 .switch(Contact).join(Company, peewee.JOIN.LEFT_OUTER, on=(Contact.company == Company.id))
                 .where(MailingListMember.mailing_list == mailing.mailing_list_id))
    else:
        query = (Contact.select(*columns, peewee.Value(False).alias("opt_out"))
                 .join(Company, peewee.JOIN.LEFT_OUTER, on=(Contact.company == Company.id)))
        expression = contacts_filter(mailing.contacts_query)
        if expression is not None:
            query = query.where(expression)
    return query


def count_recipients(mailing: Mailing, after_id: int = 0) -> int:
    return _recipient_query(mailing).where(Contact.id > after_id).count()


def recipient_batches(mailing: Mailing, batch_size: int, after_id: int = 0) -> Iterator[list[dict]]:
    """Recipients with a contact id above ``after_id``, ``batch_size`` at a time (keyset pagination,
    one query per batch: never all of them in memory). Each row: id, name, email, email_normalized,
    company, opt_out."""
    while True:
        rows = list(_recipient_query(mailing).where(Contact.id > after_id)
                    .order_by(Contact.id).limit(batch_size).dicts())
        if not rows:
            return
        yield rows
        after_id = rows[-1]["id"]
        if len(rows) < batch_size:
            return


def add_list_members(mailing_list: MailingList, contacts_query: str) -> int:
    """Add the contacts matching ``contacts_query`` to ``mailing_list``; return how many were new."""
    query = Contact.select(Contact.id).join(Company, peewee.JOIN.LEFT_OUTER, on=(Contact.company == Company.id))
    expression = contacts_filter(contacts_query)
    if expression is not None:
        query = query.where(expression)
    existing = MailingListMember.select(MailingListMember.contact).where(
        MailingListMember.mailing_list == mailing_list.id)
    query = query.where(Contact.id.not_in(existing))
    return (MailingListMember.insert_from(query.select(peewee.Value(mailing_list.id), Contact.id, peewee.Value(False)),
                                          [MailingListMember.mailing_list, MailingListMember.contact,
                                           MailingListMember.opt_out])
            .as_rowcount().execute())
