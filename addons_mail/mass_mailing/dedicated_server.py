"""The dedicated mass-mailing server (Email Marketing's "Dedicated Server" setting).

Mailings force it on their mails; every other mail is kept off it: when it is configured, the
server choice of a non-forced mail runs the built-in rules over the other active servers.
"""
from kernel.errors import UserError


def configured_server_id(env) -> int | None:
    if not env.params.get("mass_mailing.outgoing_mail_server"):
        return None
    return env.params.get("mass_mailing.mail_server_id") or None


def dedicated_mail_server(env):
    """The forced server of mass mailings, or None for the normal server choice; a clear error
    when the setting is on but names no active server."""
    if not env.params.get("mass_mailing.outgoing_mail_server"):
        return None
    server_id = env.params.get("mass_mailing.mail_server_id")
    if not server_id:
        raise UserError("The dedicated mass-mailing server is switched on but none is chosen.",
                        hint="Set mass_mailing.mail_server_id, or set mass_mailing.outgoing_mail_server false.")
    server_model = env["ir.mail_server"]
    server = server_model.get_or_none((server_model.id == server_id) & (server_model.active == True))  # noqa: E712
    if server is None:
        raise UserError(f"The dedicated mass-mailing server (id {server_id}) does not exist or is inactive.",
                        hint="Set mass_mailing.mail_server_id to an active server (`juniper mail server list`).")
    return server


def choose_transactional_server(env, from_address: str):
    """The server for a mail that is not a mailing's, chosen among the servers other than the dedicated
    one; None (the built-in rules decide) when no dedicated server is set or it is the only one."""
    dedicated_id = configured_server_id(env)
    if dedicated_id is None:
        return None
    from addons_mail.mail_server.server_choice import active_servers, choose_by_rules

    others = [server for server in active_servers() if server.id != dedicated_id]
    if not others:
        return None
    return choose_by_rules(env, from_address, others).server
