"""``juniper mailing …``, ``juniper blacklist …`` and ``juniper web``."""
import datetime
import sys
import time

import click

from kernel.cli import json_option, pass_env, print_json, print_listing
from kernel.errors import UserError


def register_mass_mailing_commands(cli: click.Group) -> None:
    cli.add_command(mailing)
    cli.add_command(blacklist)
    cli.add_command(web)


def _read_body_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UserError(f"Cannot read the body file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise UserError(f"The body file {path} is not UTF-8 text.", hint="Save it as UTF-8.") from None


def _parse_schedule(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{text!r} is not a date and time.", hint="Use ISO 8601, e.g. 2026-05-01T09:00 (UTC).") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _send_with_progress(env, mailing_id: int, batch_size: int | None) -> None:
    from addons_mail.mass_mailing.sending import remaining_recipients, send_mailing

    total = remaining_recipients(mailing_id)
    started = time.perf_counter()
    done = [0]

    def rate(_item):
        elapsed = time.perf_counter() - started
        return f"{done[0] / elapsed:,.0f} recipients/s" if elapsed > 0 and done[0] else ""

    with click.progressbar(length=max(total, 1), label=f"Mailing {mailing_id}", show_eta=True, show_pos=True,
                           item_show_func=rate, file=sys.stderr) as bar:
        def advance(count):
            done[0] += count
            bar.update(count, current_item=done[0])

        report = send_mailing(env, mailing_id, batch_size=batch_size, on_batch=advance)
    if report.state == "queued":
        mailing = _get(mailing_id)
        click.echo(f"Mailing {mailing_id} is scheduled for {mailing.scheduled_at:%Y-%m-%d %H:%M} UTC; "
                   "a worker sends it then.")
        return
    click.echo(f"Mailing {mailing_id}: {report.queued} queued, {report.cancelled} skipped "
               f"(see `juniper mailing status {mailing_id}`); now {report.state}.")


def _get(mailing_id):
    from addons_mail.mass_mailing.mailings import get_mailing

    return get_mailing(mailing_id)


@click.group()
def mailing():
    """Mass mailings: create, send, pause, resume, retry failed recipients."""


@mailing.command("create")
@click.option("--subject", required=True, help="Subject line.")
@click.option("--from", "email_from", required=True, metavar="ADDRESS", help="From address.")
@click.option("--body-file", required=True, type=click.Path(dir_okay=False),
              help="Jinja2 HTML body; fields: recipient.name, recipient.first_name, recipient.email, "
                   "recipient.company, mailing.subject, unsubscribe_url.")
@click.option("--contacts", "contacts_query", metavar="QUERY",
              help='Contacts to send to: terms like email~@example.com name="Ada Lovelace" company~Acme, or all.')
@click.option("--list", "list_name", metavar="NAME", help="A mailing list to send to.")
@click.option("--schedule", metavar="DATETIME", help="Send at this UTC date and time (ISO 8601).")
@pass_env
def mailing_create(env, subject, email_from, body_file, contacts_query, list_name, schedule):
    """Create a draft mailing (the body is checked against a sample recipient)."""
    from addons_mail.mass_mailing.mailings import create_mailing
    from addons_mail.mass_mailing.recipients import count_recipients

    created = create_mailing(env, subject=subject, email_from=email_from, body_template=_read_body_file(body_file),
                             contacts_query=contacts_query, list_name=list_name,
                             scheduled_at=_parse_schedule(schedule))
    click.echo(f"Mailing {created.id} created (draft, {count_recipients(created)} recipients). "
               f"Send it with `juniper mailing send {created.id}`.")


@mailing.command("send")
@click.argument("mailing_id", type=int)
@click.option("--batch-size", type=int, help="Recipients per transaction (default mass_mailing.batch.size).")
@pass_env
def mailing_send(env, mailing_id, batch_size):
    """Send a mailing now (or queue it for its scheduled date), with a progress bar."""
    _send_with_progress(env, mailing_id, batch_size)


@mailing.command("pause")
@click.argument("mailing_id", type=int)
@pass_env
def mailing_pause(env, mailing_id):
    """Pause a mailing after the batch in progress (mails already queued still leave)."""
    from addons_mail.mass_mailing.mailings import pause_mailing

    pause_mailing(env, mailing_id)
    click.echo(f"Mailing {mailing_id} paused. Resume it with `juniper mailing resume {mailing_id}`.")


@mailing.command("resume")
@click.argument("mailing_id", type=int)
@click.option("--later", is_flag=True, help="Only put it back in the queue; a worker continues it.")
@click.option("--batch-size", type=int, help="Recipients per transaction (default mass_mailing.batch.size).")
@pass_env
def mailing_resume(env, mailing_id, later, batch_size):
    """Continue a paused mailing after the last recipient it reached."""
    from addons_mail.mass_mailing.mailings import resume_mailing

    resume_mailing(env, mailing_id)
    if later:
        click.echo(f"Mailing {mailing_id} is queued again; a worker continues it.")
        return
    _send_with_progress(env, mailing_id, batch_size)


@mailing.command("retry-failed")
@click.argument("mailing_id", type=int)
@pass_env
def mailing_retry_failed(env, mailing_id):
    """Queue again only the recipients whose mail failed (trace `error`)."""
    from addons_mail.mass_mailing.sending import retry_failed_recipients

    count = retry_failed_recipients(env, mailing_id)
    click.echo(f"Mailing {mailing_id}: {count} failed recipient(s) queued again." if count
               else f"Mailing {mailing_id} has no failed recipients.")


@mailing.command("status")
@click.argument("mailing_id", type=int)
@json_option
@pass_env
def mailing_status_command(env, mailing_id, as_json):
    """State of a mailing and its traces per state and failure type."""
    from addons_mail.mass_mailing.mailings import mailing_status

    status = mailing_status(mailing_id)
    if as_json:
        print_json(status)
        return
    click.echo(f"Mailing {status['id']}: {status['subject']!r} from {status['from']}")
    click.echo(f"State: {status['state']}; recipients: {status['recipients_kind']} {status['recipients']!r}"
               + ("" if status["all_recipients_traced"] else " (not all reached yet)"))
    click.echo("Traces: " + ", ".join(f"{state} {n}" for state, n in status["traces"].items()))
    if status["failures"]:
        click.echo("Failures: " + ", ".join(f"{kind} {n}" for kind, n in sorted(status["failures"].items())))


@mailing.command("list")
@json_option
@pass_env
def mailing_list_command(env, as_json):
    """Every mailing, newest first, with its trace counts."""
    from addons_mail.mass_mailing.mailings import mailing_rows

    print_listing(mailing_rows(), ["id", "state", "subject", "recipients", "traces", "sent", "bounce", "error",
                                   "cancel"], as_json, empty="No mailings yet.")


@mailing.command("lists")
@json_option
@pass_env
def mailing_lists_command(env, as_json):
    """Every mailing list with its member and opt-out counts."""
    from addons_mail.mass_mailing.models import MailingList, MailingListMember

    rows = []
    for mailing_list in MailingList.select().order_by(MailingList.name):
        members = MailingListMember.select().where(MailingListMember.mailing_list == mailing_list.id)
        rows.append({"name": mailing_list.name, "members": members.count(),
                     "opted_out": members.where(MailingListMember.opt_out == True).count()})  # noqa: E712
    print_listing(rows, ["name", "members", "opted_out"], as_json, empty="No mailing lists yet.")


@mailing.command("list-add")
@click.argument("name")
@click.option("--contacts", "contacts_query", required=True, metavar="QUERY", help="Contacts to add (see create).")
@pass_env
def mailing_list_add(env, name, contacts_query):
    """Add the contacts matching a query to a mailing list (created if missing)."""
    from addons_mail.mass_mailing.models import MailingList
    from addons_mail.mass_mailing.recipients import add_list_members

    with env.atomic():
        mailing_list, _ = MailingList.get_or_create(name=name)
        added = add_list_members(mailing_list, contacts_query)
    click.echo(f"Added {added} contact(s) to the list {name!r}.")


@click.group()
def blacklist():
    """Addresses that receive no mass mailing."""


@blacklist.command("add")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the entry's log).")
@pass_env
def blacklist_add(env, email, reason):
    """Blacklist an address."""
    from addons_mail.mass_mailing.blacklist import add_to_blacklist

    entry = add_to_blacklist(env, email, reason)
    click.echo(f"{entry.email} is blacklisted.")


@blacklist.command("remove")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the entry's log).")
@pass_env
def blacklist_remove(env, email, reason):
    """Take an address off the blacklist."""
    from addons_mail.mass_mailing.blacklist import remove_from_blacklist

    entry = remove_from_blacklist(env, email, reason)
    click.echo(f"{entry.email} is no longer blacklisted.")


@blacklist.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include addresses taken off the blacklist.")
@json_option
@pass_env
def blacklist_list(env, include_removed, as_json):
    """Blacklisted addresses with their reason."""
    from addons_mail.mass_mailing.blacklist import blacklist_rows

    print_listing(blacklist_rows(include_removed), ["email", "reason", "active", "updated_at"], as_json,
                  empty="The blacklist is empty.")


@blacklist.command("show")
@click.argument("email")
@json_option
@pass_env
def blacklist_show(env, email, as_json):
    """Whether an address is blacklisted, and the log notes on its entry and contacts."""
    from addons_mail.mass_mailing.blacklist import blacklist_history

    history = blacklist_history(email)
    if as_json:
        print_json(history)
        return
    state = f"blacklisted: {history['reason']}" if history["blacklisted"] else "not blacklisted"
    click.echo(f"{history['email']} is {state}")
    print_listing(history["notes"], ["date", "on", "author", "note"], False, empty="No log notes.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8069, show_default=True, type=int, help="Port to listen on.")
@pass_env
def web(env, host, port):
    """Serve the unsubscribe pages (GET: confirmation, POST: RFC 8058 one-click)."""
    from addons_mail.mass_mailing.web import make_web_server

    try:
        server = make_web_server(env, host, port)
    except OSError as exc:
        raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror}.",
                        hint="Choose another --port or stop what uses it.") from None
    click.echo(f"Serving unsubscribe pages on http://{host}:{server.server_port}/ (Ctrl+C to stop)", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
