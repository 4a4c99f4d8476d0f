"""The kernel's commands: init, addons, plugins, config, contacts, users, cron, worker, shell."""
import signal
import threading

import click

from kernel.cli import json_option, pass_env, print_json, print_listing
from kernel.errors import NotFound, UserError
from kernel.models import Contact, ScheduledAction, User, normalize_email


def register(cli: click.Group) -> None:
    for command in (init, addons, plugins, config, contacts, users, cron, worker, shell):
        cli.add_command(command)


@click.command()
@click.option("--company", default="My Company", show_default=True, help="Name of the first company.")
@click.option("--admin-email", help="Email of the admin user.")
@click.option("--install", "install_names", multiple=True, metavar="ADDON", help="Addons to install now.")
@pass_env
def init(env, company, admin_email, install_names):
    """Create the database (tables, secret, company, admin user); optionally install addons."""
    from kernel.installer import install_addons

    env.ensure_initialized(company, admin_email)
    click.echo(f"Database ready: {env.url or 'juniper.db'}")
    if install_names:
        done = install_addons(env, list(install_names))
        click.echo(f"Installed: {', '.join(done) or 'nothing new'}")


# -- addons ----------------------------------------------------------------------------------------

@click.group()
def addons():
    """List, install, upgrade and uninstall addons."""


@addons.command("list")
@json_option
@pass_env
def addons_list(env, as_json):
    """Every available addon and whether it is installed here."""
    from kernel.models import InstalledAddon

    installed = {row.name: row.version for row in InstalledAddon.select()}
    rows = [{
        "name": a.name, "version": a.version, "installed": a.name in installed,
        "installed_version": installed.get(a.name), "depends": list(a.depends), "source": a.source,
        "summary": a.summary,
    } for a in sorted(env.available_addons.values(), key=lambda a: a.name)]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["state"] = "installed" if row["installed"] else "-"
        row["depends"] = ",".join(row["depends"])
    print_listing(rows, ["name", "version", "state", "depends", "summary"], False)


@addons.command("install")
@click.argument("names", nargs=-1, required=True)
@pass_env
def addons_install(env, names):
    """Install addons and their dependencies (in dependency order, in one transaction)."""
    from kernel.installer import install_addons

    done = install_addons(env, list(names))
    click.echo(f"Installed: {', '.join(done)}" if done else "Already installed.")


@addons.command("upgrade")
@click.argument("name")
@pass_env
def addons_upgrade(env, name):
    """Run the addon's new migrations and create its new tables."""
    from kernel.installer import upgrade_addon

    ran = upgrade_addon(env, name)
    click.echo(f"Upgraded {name}" + (f" ({len(ran)} migration(s))" if ran else ""))


@addons.command("uninstall")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def addons_uninstall(env, name, yes):
    """Uninstall an addon and drop its tables (refused while another addon depends on it)."""
    from kernel.installer import dependents_of, uninstall_addon

    if not env.is_installed(name):
        raise UserError(f"Addon {name!r} is not installed.", exit_code=2)
    blocking = dependents_of(env, name)
    if not blocking and not yes:
        click.confirm(f"Uninstalling {name} deletes its data. Continue?", abort=True)
    dropped = uninstall_addon(env, name)
    click.echo(f"Uninstalled {name}; dropped tables: {', '.join(dropped) or 'none'}")


# -- plugins ---------------------------------------------------------------------------------------

@click.group()
def plugins():
    """Inspect the plugins loaded for this database."""


@plugins.command("list")
@json_option
@pass_env
def plugins_list(env, as_json):
    """The plugins (kernel and installed addons) and the hooks each implements."""
    from kernel.plugins import hooks_of

    rows = hooks_of(env.pm)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["hooks"] = ", ".join(row["hooks"])
    print_listing(rows, ["name", "module", "hooks"], False)


# -- config ----------------------------------------------------------------------------------------

@click.group()
def config():
    """System parameters."""


@config.command("get")
@click.argument("key")
@pass_env
def config_get(env, key):
    """Print a parameter's value."""
    if env.params.spec(key) is None and env.params.get_raw(key) is None:
        raise NotFound(f"Unknown parameter {key!r}.", hint="See `juniper config list`.")
    value = env.params.get(key)
    click.echo("" if value is None else value)


@config.command("set")
@click.argument("key")
@click.argument("value")
@pass_env
def config_set(env, key, value):
    """Set a parameter (checked against its declared type)."""
    if env.params.spec(key) is None:
        click.echo(f"Warning: {key} is not a declared parameter; storing it anyway.", err=True)
    env.params.set(key, value)
    click.echo(f"{key} = {env.params.get(key)}")


@config.command("unset")
@click.argument("key")
@pass_env
def config_unset(env, key):
    """Remove a parameter's value (its default applies again)."""
    removed = env.params.unset(key)
    click.echo(f"{key} unset" if removed else f"{key} was not set")


@config.command("list")
@json_option
@pass_env
def config_list(env, as_json):
    """Every declared or stored parameter, with its value and default."""
    rows = env.params.items()
    for row in rows:
        if row["secret"] and row["value"]:
            row["value"] = "********"
    if as_json:
        print_json(rows)
    else:
        for row in rows:
            row["set"] = "" if row["is_default"] else "*"
        print_listing(rows, ["key", "value", "set", "addon", "help"], False)


# -- contacts and users ----------------------------------------------------------------------------

@click.group()
def contacts():
    """Contacts (people and companies with an email)."""


@contacts.command("add")
@click.argument("name")
@click.option("--email", help="Email address.")
@pass_env
def contacts_add(env, name, email):
    """Create a contact and print its id."""
    if email and "@" not in email:
        raise UserError(f"{email!r} is not an email address.")
    contact = Contact.create(name=name, email=email, company=env.company)
    click.echo(contact.id)


def contact_row(contact: Contact) -> dict:
    return {"id": contact.id, "name": contact.name, "email": contact.email}


@contacts.command("list")
@click.option("--search", help="Part of a name or email.")
@json_option
@pass_env
def contacts_list(env, search, as_json):
    """List contacts."""
    query = Contact.select().order_by(Contact.id)
    if search:
        query = query.where(Contact.name.contains(search) | Contact.email.contains(search))
    print_listing([contact_row(c) for c in query], ["id", "name", "email"], as_json, "No contacts.")


@click.group()
def users():
    """Users (logins linked to a contact)."""


@users.command("add")
@click.argument("login")
@click.option("--name", help="Display name (default: the login).")
@click.option("--email", required=True, help="Email address.")
@click.option("--notify", type=click.Choice(User.NOTIFICATION_PREFERENCES), default="email", show_default=True,
              help="Receive notifications by email or in the Juniper inbox.")
@pass_env
def users_add(env, login, name, email, notify):
    """Create a user (and its contact, reused when the email is known)."""
    if User.select().where(User.login == login).exists():
        raise UserError(f"A user with login {login!r} exists already.")
    with env.atomic():
        contact = Contact.get_or_none(Contact.email_normalized == normalize_email(email))
        if contact is None:
            contact = Contact.create(name=name or login, email=email, company=env.company)
        user = User.create(login=login, contact=contact, company=env.company, notification_preference=notify)
    click.echo(user.id)


@users.command("list")
@json_option
@pass_env
def users_list(env, as_json):
    """List users."""
    rows = [{"id": u.id, "login": u.login, "name": u.contact.name, "email": u.contact.email,
             "notify": u.notification_preference, "active": u.active}
            for u in User.select(User, Contact).join(Contact).order_by(User.id)]
    print_listing(rows, ["id", "login", "name", "email", "notify", "active"], as_json, "No users.")


# -- scheduled actions and the worker --------------------------------------------------------------

@click.group()
def cron():
    """Scheduled actions."""


@cron.command("list")
@json_option
@pass_env
def cron_list(env, as_json):
    """Scheduled actions with their interval, next run and last result."""
    rows = [{"name": a.name, "addon": a.addon, "interval_seconds": a.interval_seconds, "active": a.active,
             "next_run": a.next_run, "last_run": a.last_run, "running": a.lease_owner,
             "last_error": (a.last_error or "").strip().splitlines()[-1] if a.last_error else None}
            for a in ScheduledAction.select().order_by(ScheduledAction.name)]
    print_listing(rows, ["name", "addon", "interval_seconds", "active", "next_run", "last_error"], as_json,
                  "No scheduled actions.")


@cron.command("run")
@click.argument("name")
@pass_env
def cron_run(env, name):
    """Run a scheduled action now."""
    from kernel.cron import run_action_now

    result = run_action_now(env, name)
    if result is None:
        raise UserError(f"{name!r} is running in another worker right now; try again when it ends.")
    if not result.ok:
        raise UserError(f"{name!r} failed: {result.error}")
    click.echo(f"{name}: done in {result.seconds:.2f}s")


@click.command()
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@pass_env
def worker(env, once):
    """Run due scheduled actions in a loop (many workers may share one PostgreSQL database)."""
    from kernel.cron import run_due_actions, seconds_until_next_due, worker_id

    owner = worker_id()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while True:
        for run in run_due_actions(env, owner):
            status = "ok" if run.ok else f"failed: {run.error}"
            click.echo(f"{env.clock.now():%Y-%m-%d %H:%M:%S} {run.name}: {status} ({run.seconds:.2f}s)")
        if once or stop.is_set():
            break
        stop.wait(max(0.5, seconds_until_next_due(env)))
        if stop.is_set():
            break


@click.command()
@pass_env
def shell(env):
    """A Python shell with `env` (the environment) and `models`."""
    import code

    banner = "Juniper shell: `env` is the environment, `models` its models by name."
    code.interact(banner=banner, local={"env": env, "models": env.models})
