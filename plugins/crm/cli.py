"""`juniper crm lead add|list`."""
import click

from kernel.cli import json_option, pass_env, print_listing


@click.group("crm")
def crm_commands():
    """Leads of the sales team."""


@crm_commands.group("lead")
def lead_commands():
    """Create and list leads."""


@lead_commands.command("add")
@click.argument("name")
@click.option("--email", help="Email of the lead's contact (\"Name <address>\" allowed); the contact follows the lead.")
@click.option("--description", default="", help="What the lead is about.")
@click.option("--follower", "followers", multiple=True, metavar="EMAIL", help="Add a follower (repeatable).")
@pass_env
def lead_add(env, name, email, description, followers):
    """Create the lead NAME."""
    from plugins.crm.models import create_lead

    lead = create_lead(env, name, email=email, description=description, followers=followers)
    click.echo(f"Created lead #{lead.id}: {lead.name}")


@lead_commands.command("list")
@click.option("--stage", help="Only leads at this stage.")
@json_option
@pass_env
def lead_list(env, stage, as_json):
    """Every lead, newest first."""
    import peewee

    from kernel.models import Contact
    from plugins.crm.models import Lead

    query = (Lead.select(Lead, Contact).join(Contact, peewee.JOIN.LEFT_OUTER, on=(Lead.contact == Contact.id))
             .order_by(Lead.id.desc()))
    if stage:
        query = query.where(Lead.stage == stage)
    leads = list(query)
    followers = follower_counts(env, "crm.lead", [lead.id for lead in leads])
    rows = [{
        "id": lead.id, "name": lead.name, "contact": lead.contact.name if lead.contact_id else None,
        "email_from": lead.email_from, "stage": lead.stage, "followers": followers.get(lead.id, 0),
        "created_at": lead.created_at.isoformat(sep=" ", timespec="seconds"),
    } for lead in query]
    print_listing(rows, ["id", "name", "contact", "email_from", "stage", "followers"], as_json,
                  empty="No leads yet.")


def follower_counts(env, model_name: str, ids: list[int]) -> dict[int, int]:
    """Number of followers of each document (one query)."""
    import peewee

    if not ids:
        return {}
    Follower = env["mail.followers"]
    query = (Follower.select(Follower.res_id, peewee.fn.COUNT(Follower.id).alias("count"))
             .where((Follower.model == model_name) & Follower.res_id.in_(ids)).group_by(Follower.res_id))
    return {row["res_id"]: row["count"] for row in query.dicts()}
