"""The account plugin: the invoice model and `juniper account invoice add|list`."""
from kernel import hookimpl


@hookimpl
def register_models(register):
    from plugins.account.models import Invoice

    register(Invoice)


@hookimpl
def register_commands(cli):
    from plugins.account.cli import account_commands

    cli.add_command(account_commands)
