"""`juniper sale order add|list`."""
import click

from kernel.cli import json_option, pass_env, print_listing


@click.group("sale")
def sale_commands():
    """Sales orders."""


@sale_commands.group("order")
def order_commands():
    """Create and list sales orders."""


@order_commands.command("add")
@click.argument("customer")
@click.option("--amount", required=True, help="Total of the order, e.g. 1250.50.")
@click.option("--follower", "followers", multiple=True, metavar="EMAIL", help="Add a follower (repeatable).")
@pass_env
def order_add(env, customer, amount, followers):
    """Create the next sales order for CUSTOMER (an email; "Name <address>" allowed)."""
    from plugins.sale.models import create_order

    order = create_order(env, customer, amount, followers=followers)
    click.echo(f"Created sales order {order.name} for {order.customer.name}: {order.amount:.2f}")


@order_commands.command("list")
@click.option("--state", help="Only orders in this state.")
@json_option
@pass_env
def order_list(env, state, as_json):
    """Every sales order, newest first."""
    from kernel.models import Contact
    from plugins.sale.models import SaleOrder

    query = SaleOrder.select(SaleOrder, Contact).join(Contact).order_by(SaleOrder.id.desc())
    if state:
        query = query.where(SaleOrder.state == state)
    rows = [{
        "id": order.id, "name": order.name, "customer": order.customer.name,
        "customer_email": order.customer.email, "amount": f"{order.amount:.2f}", "state": order.state,
        "created_at": order.created_at.isoformat(sep=" ", timespec="seconds"),
    } for order in query]
    print_listing(rows, ["id", "name", "customer", "amount", "state"], as_json, empty="No sales orders yet.")
