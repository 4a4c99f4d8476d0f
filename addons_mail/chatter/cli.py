"""Commands of the chatter: ``juniper thread …`` and ``juniper alias …``."""
import click

from kernel.cli import command_group, json_option, pass_env, print_json, print_listing
from kernel.errors import NotFound, UserError

from addons_mail.chatter.models import CONTACT_POLICIES, Message, Notification


def register_chatter_commands(cli: click.Group) -> None:
    thread = command_group(cli, "thread", help="Threads of documents: messages, followers, failed deliveries.")
    for command in (thread_show, thread_post, thread_follow, thread_unfollow, thread_resend, thread_ignore):
        thread.add_command(command)
    alias = command_group(cli, "alias", help="Aliases: addresses that route incoming mail to documents.")
    for command in (alias_add, alias_list, alias_edit, alias_remove):
        alias.add_command(command)


# -- thread ----------------------------------------------------------------------------------------

def _message_row(message: Message, failures: list[Notification]) -> dict:
    return {
        "id": message.id, "date": message.date, "author": message.author_display,
        "author_email": message.author_email, "type": message.message_type, "subtype": message.subtype,
        "subject": message.subject, "body": _plain(message.body_html), "message_id": message.message_id,
        "auto_reply": message.is_auto_reply,
        "failed_deliveries": [{"recipient": n.contact.name, "email": n.email or n.contact.email,
                               "status": n.status, "failure_type": n.failure_type, "reason": n.failure_reason}
                              for n in failures],
    }


def _plain(body_html: str) -> str:
    from addons_mail.chatter.incoming import html_to_text

    return html_to_text(body_html or "")


@click.command("show")
@click.argument("model")
@click.argument("res_id", type=int)
@json_option
@pass_env
def thread_show(env, model, res_id, as_json):
    """Show the thread of a document: followers, messages and failed-delivery markers."""
    from addons_mail.chatter.notify import failed_deliveries
    from addons_mail.chatter.thread import followers_of, messages_of, record_of

    record = record_of(env, model, res_id)
    messages = [_message_row(m, failed_deliveries(m)) for m in messages_of(record)]
    followers = [{"name": f.contact.name, "email": f.contact.email, "subtypes": f.subtypes}
                 for f in followers_of(record)]
    if as_json:
        print_json({"model": model, "res_id": res_id, "name": record.thread_display_name(),
                    "followers": followers, "messages": messages})
        return
    click.echo(f"{model} #{res_id}: {record.thread_display_name()}")
    click.echo("Followers: " + (", ".join(f"{f['name']} <{f['email']}>" for f in followers) or "none"))
    if not messages:
        click.echo("No messages.")
    for row in messages:
        marker = " [failed delivery]" if row["failed_deliveries"] else ""
        kind = "note" if row["subtype"] == "note" else row["type"]
        click.echo(f"\n#{row['id']} {row['date']:%Y-%m-%d %H:%M} {row['author']} ({kind}){marker}")
        if row["subject"]:
            click.echo(f"  Subject: {row['subject']}")
        for line in (row["body"] or "").splitlines():
            click.echo(f"  {line}")
        for failure in row["failed_deliveries"]:
            click.echo(f"  ✉ not delivered to {failure['recipient']} <{failure['email']}>: "
                       f"{failure['status']} — {failure['reason'] or failure['failure_type']}")


@click.command("post")
@click.argument("model")
@click.argument("res_id", type=int)
@click.option("--author", "author_email", help="Email of the author (default: the current user).")
@click.option("--body", required=True, help="Text of the message.")
@click.option("--subject", help="Subject (default: the document name).")
@click.option("--note", is_flag=True, help="Internal note: only followers who are users are notified.")
@pass_env
def thread_post(env, model, res_id, author_email, body, subject, note):
    """Post a message on a document and notify its followers."""
    from addons_mail.chatter.thread import message_post, record_of

    if author_email is not None and "@" not in author_email:
        raise UserError(f"{author_email!r} is not an email address.")
    record = record_of(env, model, res_id)
    message = message_post(env, record, body, author=author_email, subject=subject,
                           subtype="note" if note else "comment", body_is_text=True)
    count = Notification.select().where(Notification.message == message.id).count()
    click.echo(f"Posted message #{message.id}; {count} follower(s) notified.")


@click.command("follow")
@click.argument("model")
@click.argument("res_id", type=int)
@click.option("--contact", "emails", multiple=True, required=True, help="Email of the contact (repeatable).")
@click.option("--subtype", "subtypes", multiple=True, type=click.Choice(["comment", "note"]),
              help="Subtypes to follow (default: all).")
@pass_env
def thread_follow(env, model, res_id, emails, subtypes):
    """Make contacts follow a document (unknown emails become new contacts)."""
    from addons_mail.chatter.thread import follow, record_of

    added = follow(env, record_of(env, model, res_id), list(emails), list(subtypes) or None)
    click.echo(f"{added} new follower(s).")


@click.command("unfollow")
@click.argument("model")
@click.argument("res_id", type=int)
@click.option("--contact", "emails", multiple=True, required=True, help="Email of the contact (repeatable).")
@pass_env
def thread_unfollow(env, model, res_id, emails):
    """Remove followers from a document."""
    from addons_mail.chatter.thread import record_of, unfollow

    removed = unfollow(env, record_of(env, model, res_id), list(emails))
    if not removed:
        raise NotFound(f"None of {', '.join(emails)} follows {model} #{res_id}.")
    click.echo(f"{removed} follower(s) removed.")


def _message_by_reference(reference: str) -> Message:
    reference = reference.strip()
    if reference.isdigit():
        message = Message.get_or_none(Message.id == int(reference))
    else:
        wanted = reference if reference.startswith("<") else f"<{reference}>"
        message = Message.get_or_none(Message.message_id == wanted)
    if message is None:
        raise NotFound(f"No message {reference}.", hint="See the ids in `juniper thread show MODEL ID`.")
    return message


@click.command("resend")
@click.argument("message_ref", metavar="MESSAGE_ID")
@pass_env
def thread_resend(env, message_ref):
    """Queue the failed deliveries of a message again (MESSAGE_ID: its number or its Message-Id)."""
    from addons_mail.chatter.notify import resend_failed_deliveries

    count = resend_failed_deliveries(env, _message_by_reference(message_ref))
    click.echo(f"{count} notification(s) queued again.")


@click.command("ignore")
@click.argument("message_ref", metavar="MESSAGE_ID")
@pass_env
def thread_ignore(env, message_ref):
    """Dismiss the failed-delivery marker of a message (its failed notifications become canceled)."""
    from addons_mail.chatter.notify import ignore_failed_deliveries

    count = ignore_failed_deliveries(env, _message_by_reference(message_ref))
    if not count:
        raise UserError(f"Message {message_ref} has no failed delivery to ignore.")
    click.echo(f"{count} failed notification(s) canceled.")


# -- alias -------------------------------------------------------------------------------------------

def _owner(text: str | None) -> tuple[str | None, int | None]:
    if not text:
        return None, None
    model, _, res_id = text.rpartition(":")
    if not model or not res_id.isdigit():
        raise UserError(f"{text!r} is not a document reference.", hint="Write it as MODEL:ID, e.g. crm.lead:4.")
    return model, int(res_id)


def _alias_row(env, alias) -> dict:
    return {"id": alias.id, "name": alias.name, "address": alias.address, "model": alias.model,
            "record": alias.record_id, "defaults": alias.defaults, "contact": alias.contact_policy,
            "owner": f"{alias.owner_model}:{alias.owner_id}" if alias.owner_model else None,
            "status": alias.status}


@click.command("add")
@click.argument("name")
@click.option("--model", required=True, help="Model of the documents (e.g. crm.lead).")
@click.option("--record", "record_id", type=int, help="Post every email on this record instead of creating one.")
@click.option("--defaults", help="JSON object of values for the records created.")
@click.option("--contact", "contact_policy", type=click.Choice(CONTACT_POLICIES), default="everyone",
              show_default=True, help="Who may write to the alias.")
@click.option("--owner", help="Owner document MODEL:ID (its followers may write with --contact followers).")
@pass_env
def alias_add(env, name, model, record_id, defaults, contact_policy, owner):
    """Create an alias NAME@<alias domain>."""
    from addons_mail.chatter.aliases import create_alias, parse_defaults

    owner_model, owner_id = _owner(owner)
    alias = create_alias(env, name, model, record_id=record_id, defaults=parse_defaults(defaults),
                         contact_policy=contact_policy, owner_model=owner_model, owner_id=owner_id)
    if not alias.domain:
        click.echo("Warning: mail.catchall.domain is not set; the alias matches its name on any domain "
                   "until it is.", err=True)
    click.echo(f"Alias {alias.address} -> {alias.model}" + (f" #{alias.record_id}" if alias.record_id else ""))


@click.command("list")
@json_option
@pass_env
def alias_list(env, as_json):
    """List the aliases."""
    from addons_mail.chatter.models import Alias

    rows = [_alias_row(env, a) for a in Alias.select().order_by(Alias.name)]
    print_listing(rows, ["id", "address", "model", "record", "contact", "owner", "status"], as_json, "No aliases.")


@click.command("edit")
@click.argument("name")
@click.option("--name", "new_name", help="New name.")
@click.option("--model", help="New model.")
@click.option("--record", "record_id", type=int, help="Fixed record id.")
@click.option("--no-record", is_flag=True, help="Create a record per email again (drop the fixed record).")
@click.option("--defaults", help="JSON object of values for the records created.")
@click.option("--contact", "contact_policy", type=click.Choice(CONTACT_POLICIES), help="Who may write to the alias.")
@click.option("--owner", help="Owner document MODEL:ID.")
@pass_env
def alias_edit(env, name, new_name, model, record_id, no_record, defaults, contact_policy, owner):
    """Change an alias."""
    from addons_mail.chatter.aliases import UNCHANGED, edit_alias, parse_defaults

    if no_record and record_id is not None:
        raise UserError("Give either --record or --no-record, not both.")
    owner_model, owner_id = _owner(owner) if owner else (UNCHANGED, UNCHANGED)
    alias = edit_alias(env, name, new_name=new_name, model=model,
                       record_id=None if no_record else (record_id if record_id is not None else UNCHANGED),
                       defaults=parse_defaults(defaults) if defaults is not None else None,
                       contact_policy=contact_policy, owner_model=owner_model, owner_id=owner_id)
    click.echo(f"Alias {alias.address} updated.")


@click.command("remove")
@click.argument("name")
@pass_env
def alias_remove(env, name):
    """Delete an alias (mail to it is no longer routed)."""
    from addons_mail.chatter.aliases import remove_alias

    remove_alias(env, name)
    click.echo(f"Alias {name} removed.")
