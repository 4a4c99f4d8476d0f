"""Commands: ``juniper fetchmail …``, ``juniper mail gateway process`` (the pipe) and
``juniper mail deadletter …``."""
import sys

import click
import peewee

from kernel.cli import CliState, command_group, json_option, pass_env, print_json, print_listing, read_secret
from kernel.errors import UserError

EX_TEMPFAIL = 75
SERVER_COLUMNS = ["name", "type", "host", "port", "ssl", "starttls", "user", "folder", "priority", "state",
                  "last_fetch_at", "last_error"]
DEAD_LETTER_COLUMNS = ["id", "received_at", "server", "message_id", "subject", "retries", "error"]


def register(cli: click.Group) -> None:
    cli.add_command(fetchmail)
    mail = command_group(cli, "mail", help="Company email.")
    gateway = command_group(mail, "gateway", help="The mail gateway: incoming messages.")
    gateway.add_command(gateway_process)
    mail.add_command(deadletter)


def server_options(function):
    """Options shared by ``add`` and ``edit`` (None means: not given)."""
    options = [
        click.option("--type", "server_type", type=click.Choice(["imap", "pop", "local"]), help="Protocol."),
        click.option("--host", help="Host name of the mail server."),
        click.option("--port", type=int, help="Port (default IMAP 143/993, POP 110/995 by --ssl)."),
        click.option("--ssl/--no-ssl", "use_ssl", default=None, help="Implicit TLS (IMAPS 993, POP3S 995)."),
        click.option("--starttls/--no-starttls", default=None,
                     help="Upgrade the plain connection with STARTTLS."),
        click.option("--user", help="Login of the mailbox."),
        click.option("--password-env", metavar="VAR",
                     help="Read the password from this environment variable."),
        click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Read the password from this file."),
        click.option("--folder", help="IMAP folder to fetch (default INBOX)."),
        click.option("--model", "object_model",
                     help="Model to create records in when nothing else routes a mail."),
        click.option("--priority", type=int, help="Lower is fetched first (default 5)."),
        click.option("--keep-attachments/--no-keep-attachments", default=None,
                     help="Keep attachments of incoming mail (default yes)."),
        click.option("--keep-original/--no-keep-original", default=None, help="Attach the original .eml."),
        click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
                     help="PEM file of a private CA to trust for this server's certificate."),
        click.option("--timeout", type=int, help="Seconds to wait for the server (default 60)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _server_fields(options: dict, password: str | None) -> dict:
    fields = dict(options)
    fields.pop("password_env", None)
    fields.pop("password_file", None)
    fields["ssl"] = fields.pop("use_ssl", None)
    fields["password"] = password
    return fields


@click.group()
def fetchmail():
    """Incoming mail servers (IMAP, POP, or a local MTA pipe)."""


@fetchmail.command("add")
@click.argument("name")
@server_options
@pass_env
def fetchmail_add(env, name, **options):
    """Add an incoming server (state draft until `juniper fetchmail test NAME` confirms it)."""
    from addons_mail.fetchmail.servers import create_incoming_server

    options["server_type"] = options["server_type"] or "imap"
    password = read_secret("Password", options["password_env"], options["password_file"],
                           required=options["server_type"] != "local")
    server = create_incoming_server(env, name, **_server_fields(options, password))
    click.echo(f"Added incoming server {server.name!r} ({server.server_type}, draft). "
               f"Run `juniper fetchmail test {server.name}` to confirm it.")


@fetchmail.command("edit")
@click.argument("name")
@server_options
@click.option("--password-prompt", is_flag=True, help="Ask for a new password.")
@pass_env
def fetchmail_edit(env, name, password_prompt, **options):
    """Change settings of an incoming server; connection changes put it back to draft."""
    from addons_mail.fetchmail.servers import get_incoming_server, update_incoming_server

    server = get_incoming_server(env, name)
    password = read_secret("Password", options["password_env"], options["password_file"])
    if password is None and password_prompt:
        password = click.prompt("Password", hide_input=True)
    update_incoming_server(env, server, **_server_fields(options, password))
    click.echo(f"Updated incoming server {server.name!r} (state {server.state}).")


@fetchmail.command("list")
@json_option
@pass_env
def fetchmail_list(env, as_json):
    """Every incoming server (passwords are never shown)."""
    from addons_mail.fetchmail.models import IncomingServer

    rows = [s.as_row() for s in IncomingServer.select().order_by(IncomingServer.priority, IncomingServer.id)]
    print_listing(rows, SERVER_COLUMNS, as_json, empty="No incoming server.")


@fetchmail.command("test")
@click.argument("name")
@pass_env
def fetchmail_test(env, name):
    """TEST & CONFIRM: connect, log in, select the folder; confirm the server when it works."""
    from addons_mail.fetchmail.servers import get_incoming_server, test_and_confirm

    server = test_and_confirm(env, get_incoming_server(env, name))
    click.echo(f"Connection to {server.name!r} works; the server is confirmed.")


@fetchmail.command("fetch")
@click.argument("name", required=False)
@json_option
@pass_env
def fetchmail_fetch(env, name, as_json):
    """Fetch now: NAME, or every confirmed server. Exit 1 when a server failed."""
    from addons_mail.fetchmail.fetch import fetch_all, fetch_server
    from addons_mail.fetchmail.servers import get_incoming_server

    runs = [fetch_server(env, get_incoming_server(env, name))] if name else fetch_all(env)
    print_listing([run.as_row() for run in runs], ["server", "fetched", "stored", "dead_lettered", "error"],
                  as_json, empty="No confirmed incoming server.")
    if any(run.error for run in runs):
        sys.exit(1)


# -- the pipe --------------------------------------------------------------------------------------

@click.command("process")
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--explain", is_flag=True, help="Say how the message would be routed; store nothing.")
@click.option("--server", "server_name", metavar="NAME",
              help="The incoming server (type local) it came through; default: the first local one.")
@json_option
@click.pass_context
def gateway_process(ctx, file, explain, server_name, as_json):
    """Read one raw message (FILE or stdin) and hand it to the gateway, as an MTA pipe transport does.

    Exit 0 when stored (routed or dead-lettered), 75 (EX_TEMPFAIL, the MTA retries) when the database
    is unavailable.
    """
    raw = file.read()
    try:
        env = ctx.find_object(CliState).env
        if not env.is_installed("fetchmail"):
            raise UserError("The addon 'fetchmail' is not installed in this database.",
                            hint="Run `juniper addons install fetchmail`; the MTA will retry.")
        server = _pipe_server(env, server_name)
        if explain:
            result = explain_without_writing(env, raw)
            _print_result(result or {"route": None, "error": "No mail gateway is installed."}, as_json)
            return
        from addons_mail.fetchmail.api import hand_over_message

        outcome = hand_over_message(env, raw, server)
    except (peewee.OperationalError, peewee.InterfaceError) as error:
        click.echo(f"Error: The database is unavailable ({' '.join(str(error).split())}); "
                   "the message was not stored, retry later.", err=True)
        sys.exit(EX_TEMPFAIL)
    except UserError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(EX_TEMPFAIL)
    _print_result(outcome.as_row(), as_json)


def _pipe_server(env, name):
    from addons_mail.fetchmail.models import IncomingServer
    from addons_mail.fetchmail.servers import get_incoming_server

    if name:
        return get_incoming_server(env, name)
    return (IncomingServer.select().where(IncomingServer.server_type == "local")
            .order_by(IncomingServer.priority, IncomingServer.id).first())


def explain_without_writing(env, raw: bytes):
    """``explain_incoming_message`` inside a transaction that is always rolled back."""
    with env.db.atomic() as transaction:
        result = env.pm.hook.explain_incoming_message(env=env, raw=raw)
        transaction.rollback()
    return result


def _print_result(row: dict, as_json: bool) -> None:
    if as_json:
        print_json(row)
        return
    for key, value in row.items():
        if value not in (None, "", [], {}):
            click.echo(f"{key}: {value}")


# -- dead letters ----------------------------------------------------------------------------------

@click.group()
def deadletter():
    """Incoming messages the gateway could not take: list, show, retry, delete."""


@deadletter.command("list")
@json_option
@pass_env
def deadletter_list(env, as_json):
    """Every dead letter, newest first."""
    from addons_mail.fetchmail.models import DeadLetter

    letters = DeadLetter.select().order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc())
    rows = [letter.as_row() for letter in letters]
    print_listing(rows, DEAD_LETTER_COLUMNS, as_json, empty="No dead letter.")


@deadletter.command("show")
@click.argument("letter_id", type=int)
@click.option("--raw", "show_raw", is_flag=True, help="Print only the raw message (to save or re-pipe it).")
@json_option
@pass_env
def deadletter_show(env, letter_id, show_raw, as_json):
    """One dead letter: its details and the raw message."""
    from addons_mail.fetchmail.models import DeadLetter
    from kernel.errors import NotFound

    letter = DeadLetter.get_or_none(DeadLetter.id == letter_id)
    if letter is None:
        raise NotFound(f"No dead letter #{letter_id}.", hint="See `juniper mail deadletter list`.")
    if show_raw:
        click.get_binary_stream("stdout").write(letter.raw_bytes)
        return
    row = letter.as_row()
    row["raw"] = letter.raw_bytes.decode("utf-8", "replace")
    if as_json:
        print_json(row)
        return
    for key, value in row.items():
        if key != "raw":
            click.echo(f"{key}: {'' if value is None else value}")
    click.echo("")
    click.echo(row["raw"])


@deadletter.command("retry")
@click.argument("letter_id", type=int)
@json_option
@pass_env
def deadletter_retry(env, letter_id, as_json):
    """Give a dead letter to the gateway again; it leaves the list when the gateway takes it."""
    from addons_mail.fetchmail.api import retry_dead_letter

    outcome = retry_dead_letter(env, letter_id)
    _print_result(outcome.as_row(), as_json)
    if outcome.dead_lettered:
        sys.exit(1)


@deadletter.command("delete")
@click.argument("letter_id", type=int)
@pass_env
def deadletter_delete(env, letter_id):
    """Delete a dead letter for good."""
    from addons_mail.fetchmail.api import delete_dead_letter

    delete_dead_letter(env, letter_id)
    click.echo(f"Deleted dead letter #{letter_id}.")
