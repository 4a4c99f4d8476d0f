"""The ``juniper`` command line: the root group, and the helpers addon commands use.

Addons add commands through the ``register_commands(cli)`` hook. Every command an addon adds is tagged
with the addon's name, so running it on a database where the addon is not installed says so in one line.
Known errors (:class:`kernel.errors.UserError`) become one line on stderr and a non-zero exit code;
unexpected ones keep their traceback.
"""
import functools
import json
import logging
import sys

import click

from kernel.addons import discover_addons
from kernel.errors import AddonError, UserError
from kernel.plugins import KERNEL_PLUGIN_NAME, build_plugin_manager, register_addon_plugin


class CliError(click.ClickException):
    """A :class:`UserError` shown as ``Error: <sentence>`` with its exit code."""

    def __init__(self, error: UserError):
        super().__init__(str(error))
        self.exit_code = error.exit_code


class CliState:
    """What the root group knows: the database URL, and the environment once opened."""

    def __init__(self, db_url: str | None):
        self.db_url = db_url
        self._env = None

    @property
    def env(self):
        if self._env is None:
            from kernel.env import open_environment

            self._env = open_environment(self.db_url)
        return self._env

    def close(self):
        if self._env is not None:
            self._env.close()


def _walk(command: click.Command):
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _walk(sub)


class JuniperCLI(click.Group):
    """Root group that loads addon commands lazily (once) and turns user errors into one line."""

    _addons_loaded = False

    def _load_addon_commands(self):
        if self._addons_loaded:
            return
        self._addons_loaded = True
        try:
            addons = discover_addons().values()
        except UserError:
            addons = []  # `juniper addons list` shows what is wrong with the addons
        pm = build_plugin_manager()
        for addon in addons:
            try:
                register_addon_plugin(pm, addon)
            except Exception as exc:  # one broken addon must not take the whole CLI down
                logging.getLogger("juniper.cli").warning("addon %s cannot be loaded: %s", addon.name, exc)
        for impl in reversed(pm.hook.register_commands.get_hookimpls()):
            seen = {id(c) for c in _walk(self)}
            try:
                impl.function(cli=self)
            except Exception as exc:
                logging.getLogger("juniper.cli").warning(
                    "addon %s cannot add its commands: %s", impl.plugin_name, exc)
            for command in _walk(self):
                if id(command) not in seen and impl.plugin_name != KERNEL_PLUGIN_NAME:
                    command.juniper_addon = impl.plugin_name

    def list_commands(self, ctx):
        self._load_addon_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_addon_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise CliError(error) from None


@click.group(cls=JuniperCLI)
@click.option("--db", "db_url", envvar="JUNIPER_DB", metavar="URL",
              help="Database: a SQLite file (default juniper.db) or postgresql://user@host/db.")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.version_option(package_name="juniper")
@click.pass_context
def cli(ctx, db_url, verbose):
    """Juniper: an ERP kernel whose first subsystem is company email."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = CliState(db_url)
    ctx.obj = state
    ctx.call_on_close(state.close)


def pass_env(function):
    """Give a command the environment as first argument; refuse if its addon is not installed."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        env = ctx.find_object(CliState).env
        addon = getattr(ctx.command, "juniper_addon", None)
        if addon and not env.is_installed(addon):
            raise CliError(AddonError(
                f"The command `{ctx.command_path}` comes with the addon {addon!r}, which is not installed "
                f"in this database.", hint=f"Run `juniper addons install {addon}`."))
        try:
            return function(env, *args, **kwargs)
        except UserError as error:
            raise CliError(error) from None

    return wrapper


def command_group(parent: click.Group, name: str, help: str = "") -> click.Group:
    """The subgroup ``name`` of ``parent``, created if missing (several addons share ``juniper mail``)."""
    existing = parent.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name=name, help=help)
    parent.add_command(group)
    return group


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_listing(rows: list[dict], columns: list[str], as_json: bool, empty: str = "Nothing to list.") -> None:
    """Print ``rows`` as JSON or as an aligned table of ``columns``."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(empty)
        return
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def read_secret(prompt_label: str, env_var: str | None, file: str | None, *, required: bool = False) -> str | None:
    """A password from ``$env_var``, a file, or a hidden prompt; never echoed or logged."""
    import os

    if env_var:
        if env_var not in os.environ:
            raise UserError(f"The environment variable {env_var} is not set.")
        return os.environ[env_var]
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise UserError(f"Cannot read the password file {file}: {exc.strerror}.") from None
    if required and sys.stdin.isatty():
        return click.prompt(prompt_label, hide_input=True)
    return None


def main(argv=None):
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="juniper")
