"""The kernel's own plugin: its parameters."""
from kernel import hookimpl


@hookimpl
def register_parameters(register):
    register("hosting", "on-premise", str, help="Hosting profile: on-premise or online.")
    register("database.secret", "", str, help="Per-database secret for signed tokens (set by init).")
    register("web.base.url", "http://127.0.0.1:8069", str, help="Public base URL of this database.")


@hookimpl
def register_commands(cli):
    from kernel import commands

    commands.register(cli)
