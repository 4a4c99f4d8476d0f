"""Which outgoing server sends a mail (SPEC §2.2, the seed's order), and the explanation of it."""
import logging
from dataclasses import dataclass

from addons_mail.mail_server.addresses import default_from_address, domain_of, parse_from_filter, split_address
from addons_mail.mail_server.models import MailServer

log = logging.getLogger("juniper.mail.server_choice")

STEPS = ("exact_address", "domain", "no_filter", "default_from", "first_by_priority", "default_server", "forced",
         "plugin")


@dataclass(frozen=True)
class ServerChoice:
    """The chosen server (None: the configured default server), the rule that chose it and its filter."""

    server: MailServer | None
    step: str
    from_filter: str | None


def active_servers() -> list[MailServer]:
    return list(MailServer.select().where(MailServer.active == True)  # noqa: E712
                .order_by(MailServer.priority, MailServer.id))


def _match_address(servers, address: str):
    return next((s for s in servers if address in parse_from_filter(s.from_filter)), None)


def _match_domain(servers, domain: str):
    return next((s for s in servers if domain in parse_from_filter(s.from_filter)), None)


def choose_by_rules(env, from_address: str, servers: list[MailServer] | None = None) -> ServerChoice:
    """The built-in rules: exact address, domain, empty filter, default From, first by priority."""
    servers = active_servers() if servers is None else servers
    if not servers:
        return ServerChoice(None, "default_server", env.params.get("mail.default.from_filter"))
    address = (split_address(from_address)[1] or from_address or "").lower()
    found = _match_address(servers, address)
    if found:
        return ServerChoice(found, "exact_address", found.from_filter)
    found = _match_domain(servers, domain_of(address)) if address else None
    if found:
        return ServerChoice(found, "domain", found.from_filter)
    found = next((s for s in servers if not parse_from_filter(s.from_filter)), None)
    if found:
        return ServerChoice(found, "no_filter", found.from_filter)
    default_from = default_from_address(env)
    if default_from:
        found = _match_address(servers, default_from) or _match_domain(servers, domain_of(default_from))
        if found:
            return ServerChoice(found, "default_from", found.from_filter)
    log.warning("no server matches the From filter of %s; using %s, the first by priority", address, servers[0].name)
    return ServerChoice(servers[0], "first_by_priority", servers[0].from_filter)


def choose_outgoing_server(env, from_address: str, mail=None, forced: MailServer | None = None,
                           servers: list[MailServer] | None = None) -> ServerChoice:
    """The server for a mail From ``from_address``: the forced one, a plugin's answer, else the rules."""
    if forced is not None:
        return ServerChoice(forced, "forced", forced.from_filter)
    answer = env.pm.hook.choose_outgoing_server(env=env, mail=mail, from_address=from_address)
    if answer is not None:
        return ServerChoice(answer, "plugin", answer.from_filter)
    return choose_by_rules(env, from_address, servers)


def explain_sending(env, from_address: str, to_address: str | None = None) -> dict:
    """What would happen to a mail From ``from_address``: server, rule, header From, envelope sender.

    Writes nothing. ``server`` is None for the configured default server.
    """
    from addons_mail.mail_server.addresses import decide_sender

    choice = choose_outgoing_server(env, from_address)
    decision = decide_sender(env, from_address, choice.from_filter)
    warnings = []
    if default_from_address(env) is None:
        warnings.append("mail.catchall.domain is not set: there is no default From, catchall or bounce address.")
    if choice.step == "first_by_priority":
        warnings.append("No server matches the From filter; the first server by priority is used.")
    if decision.warning:
        warnings.append(decision.warning)
    if choice.server is not None and not choice.server.verify_tls:
        warnings.append(f"TLS certificates are not verified for {choice.server.name}.")
    return {
        "server": choice.server.name if choice.server is not None else None,
        "step": choice.step,
        "from_filter": choice.from_filter or "",
        "header_from": decision.header_from,
        "envelope_from": decision.envelope_from,
        "encapsulated": decision.encapsulated,
        "verp": bool(decision.envelope_from and env.params.get("mail.bounce.verp")
                     and decision.envelope_from == _bounce(env) and _verp_allowed(env, choice.from_filter)),
        "to": to_address,
        "warnings": warnings,
    }


def _bounce(env):
    from addons_mail.mail_server.addresses import bounce_address

    return bounce_address(env)


def _verp_allowed(env, from_filter) -> bool:
    from addons_mail.mail_server.addresses import matches_from_filter

    bounce = _bounce(env)
    if not bounce:
        return False
    local, _, domain = bounce.partition("@")
    return matches_from_filter(f"{local}+token@{domain}", from_filter)
