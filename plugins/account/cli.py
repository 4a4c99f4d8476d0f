"""`juniper account invoice add|list`."""
import click

from kernel.cli import json_option, pass_env, print_listing


@click.group("account")
def account_commands():
    """Customer invoices."""


@account_commands.group("invoice")
def invoice_commands():
    """Create and list invoices."""


@invoice_commands.command("add")
@click.argument("customer")
@click.option("--amount", required=True, help="Total of the invoice, e.g. 1250.50.")
@click.option("--follower", "followers", multiple=True, metavar="EMAIL", help="Add a follower (repeatable).")
@pass_env
def invoice_add(env, customer, amount, followers):
    """Create the next invoice for CUSTOMER (an email; "Name <address>" allowed)."""
    from plugins.account.models import create_invoice

    invoice = create_invoice(env, customer, amount, followers=followers)
    click.echo(f"Created invoice {invoice.name} for {invoice.customer.name}: {invoice.amount:.2f}")


@invoice_commands.command("list")
@click.option("--state", help="Only invoices in this state.")
@json_option
@pass_env
def invoice_list(env, state, as_json):
    """Every invoice, newest first."""
    from kernel.models import Contact
    from plugins.account.models import Invoice

    query = Invoice.select(Invoice, Contact).join(Contact).order_by(Invoice.id.desc())
    if state:
        query = query.where(Invoice.state == state)
    rows = [{
        "id": invoice.id, "name": invoice.name, "customer": invoice.customer.name,
        "customer_email": invoice.customer.email, "amount": f"{invoice.amount:.2f}", "state": invoice.state,
        "invoice_date": invoice.invoice_date.isoformat(),
    } for invoice in query]
    print_listing(rows, ["id", "name", "customer", "amount", "state", "invoice_date"], as_json,
                  empty="No invoices yet.")
