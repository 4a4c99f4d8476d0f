"""The crm plugin: the lead model, the sales alias, the `juniper crm` commands and `juniper demo`."""
from kernel import hookimpl

SALES_ALIAS = "sales"


@hookimpl
def register_models(register):
    from plugins.crm.models import Lead

    register(Lead)


@hookimpl
def after_addon_install(env, addon):
    if addon != "crm":
        return
    from addons_mail.chatter.aliases import create_alias, get_alias
    from kernel.errors import NotFound

    try:
        get_alias(env, SALES_ALIAS)
    except NotFound:
        create_alias(env, SALES_ALIAS, "crm.lead")


@hookimpl
def after_addon_uninstall(env, addon):
    if addon != "crm":
        return
    from addons_mail.chatter.aliases import get_alias, remove_alias
    from kernel.errors import NotFound

    try:
        alias = get_alias(env, SALES_ALIAS)
    except NotFound:
        return
    if alias.model == "crm.lead":
        remove_alias(env, SALES_ALIAS)


@hookimpl
def register_commands(cli):
    from plugins.crm.cli import crm_commands
    from plugins.crm.demo import demo

    cli.add_command(crm_commands)
    cli.add_command(demo)
