"""The sale plugin: the sales order model and `juniper sale order add|list`."""
from kernel import hookimpl


@hookimpl
def register_models(register):
    from plugins.sale.models import SaleOrder

    register(SaleOrder)


@hookimpl
def register_commands(cli):
    from plugins.sale.cli import sale_commands

    cli.add_command(sale_commands)
