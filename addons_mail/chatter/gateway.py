"""The mail gateway: route one incoming email (SPEC §5) and store it where it belongs.

Routing is split in two so that every decision can be explained without writing anything:
:func:`decide_route` reads the database and returns a :class:`RouteDecision`;
:func:`apply_route` performs it (post, create, record a bounce, reply, dead-letter). Order:

1. parse (tolerant) and sanitize — :func:`~addons_mail.chatter.incoming.parse_incoming`;
   the resolver hook ``route_incoming_message`` is asked first and may take the message;
2. duplicate Message-Id → ignored (a bounce that reuses the Message-Id of the mail it returns, as
   some MTAs do, is still a bounce);
3. bounce → notification ``bounce``, history, counter, ``after_mail_bounced``; nothing posted;
4. auto-reply → flagged: posted if it is a reply, never relayed, never answered;
5. reply (In-Reply-To / References) → posted on that document and relayed to its followers,
   unless a recipient is an alias of another model (then a new document there);
6. aliases in To, Cc, Delivered-To → a new record (``message_new``) or a post on the fixed record,
   after the alias contact policy; a mail only to the catchall is refused with a reply;
7. the incoming server's default model;
8. else the dead-letter store.

Loop detection applies to steps 5–7. The result is the ``GatewayResult`` dict of
``docs/mail-contracts.md``.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from email.utils import formataddr

from kernel.models import Contact, normalize_email

from addons_mail.chatter.aliases import is_sender_allowed, matching_aliases
from addons_mail.chatter.bounce_effects import VerpLookup, apply_bounce, bounced_message, reset_bounce_counter
from addons_mail.chatter.bounces import BounceReport, detect_bounce
from addons_mail.chatter.incoming import IncomingMessage, parse_incoming
from addons_mail.chatter.loop_detection import is_allowlisted, messages_in_loop_window, record_loop_drop
from addons_mail.chatter.models import Alias, Message
from addons_mail.chatter.refusal_reply import send_refusal_reply
from addons_mail.chatter.thread import ThreadMixin, message_new, message_post

__all__ = ["RouteDecision", "Target", "apply_route", "decide_route", "explain_incoming", "process_incoming"]

log = logging.getLogger("juniper.chatter.gateway")

_JUNIPER_MESSAGE_ID = re.compile(r"-juniper-(\d+)-([\w.]+)@")


@dataclasses.dataclass
class Target:
    """One document the message goes to: ``kind`` is ``reply``, ``alias_post``, ``alias_new`` or
    ``default_model`` (``res_id`` None: a record is created)."""

    kind: str
    model: str
    res_id: int | None = None
    alias: Alias | None = None
    parent: Message | None = None
    defaults: dict = dataclasses.field(default_factory=dict)

    @property
    def creates_record(self) -> bool:
        return self.res_id is None


@dataclasses.dataclass
class RouteDecision:
    """What the gateway will do with a message, and why (all read from the database, nothing written)."""

    route: str
    msg: IncomingMessage
    author: Contact | None = None
    targets: list[Target] = dataclasses.field(default_factory=list)
    bounce: BounceReport | None = None
    bounce_mail_id: int | None = None
    refusal: str | None = None
    error: str | None = None
    reason: str = ""

    def as_result(self) -> dict:
        """The ``GatewayResult`` dict (model and res_id of the first target; ``res_id`` None when a
        record would be created)."""
        first = self.targets[0] if self.targets else None
        result = {
            "route": self.route,
            "model": first.model if first else None,
            "res_id": first.res_id if first else None,
            "auto_reply": self.msg.is_auto_reply,
            "author": self.msg.from_email or None,
            "author_name": self.author.name if self.author is not None else (self.msg.from_name or None),
            "message_id": self.msg.message_id,
            "reason": self.reason,
        }
        if len(self.targets) > 1:
            result["targets"] = [{"model": t.model, "res_id": t.res_id, "kind": t.kind} for t in self.targets]
        if self.bounce is not None:
            result["bounce"] = {
                "recipients": [{"email": r.email, "kind": r.kind, "status": r.status}
                               for r in self.bounce.recipients],
                "bounced_message_id": self.bounce.bounced_message_id,
            }
            message = bounced_message(self.bounce, self.bounce_mail_id)
            if message is not None:
                result["model"], result["res_id"] = message.model, message.res_id
        if self.refusal:
            result["refusal"] = self.refusal
        if self.error:
            result["error"] = self.error
        return result


# -- deciding ------------------------------------------------------------------------------------

def _find_author(env, msg: IncomingMessage) -> Contact | None:
    from addons_mail.chatter.thread import contact_by_email

    return contact_by_email(env, normalize_email(msg.from_email)) if msg.from_email else None


def _detect_bounce(env, msg: IncomingMessage) -> tuple[BounceReport | None, int | None]:
    from addons_mail.mail_server.api import bounce_address

    address = bounce_address(env)
    options = {"bounce_addresses": [address] if address else [],
               "bounce_alias": env.params.get("mail.bounce.alias") or "bounce"}
    lookup = VerpLookup(env, msg, **options)
    report = detect_bounce(msg, **options, verp_parse=lookup)
    return report, lookup.mail_id


def _record_exists(env, model_name: str, res_id: int) -> bool:
    model = env.models.get(model_name)
    if model is None or not (isinstance(model, type) and issubclass(model, ThreadMixin)):
        return False
    return model.select().where(model.id == res_id).exists()


def _find_parent(env, msg: IncomingMessage) -> tuple[Message | None, tuple[str, int] | None]:
    """The stored message this one replies to; else the document named by one of our Message-Ids."""
    ids = msg.reply_ids
    if not ids:
        return None, None
    found = {m.message_id: m for m in Message.select().where(Message.message_id.in_(ids))}
    for message_id in ids:
        parent = found.get(message_id)
        if parent is not None and _record_exists(env, parent.model, parent.res_id):
            return parent, (parent.model, parent.res_id)
    for message_id in ids:
        match = _JUNIPER_MESSAGE_ID.search(message_id)
        if match and _record_exists(env, match.group(2), int(match.group(1))):
            return None, (match.group(2), int(match.group(1)))
    return None, None


def _alias_target(alias: Alias) -> Target:
    if alias.record_id is not None:
        return Target("alias_post", alias.model, alias.record_id, alias=alias)
    return Target("alias_new", alias.model, None, alias=alias, defaults=dict(alias.defaults or {}))


def _recipients(msg: IncomingMessage) -> list[str]:
    seen: list[str] = []
    for address in msg.to + msg.cc + msg.delivered_to:
        if address not in seen:
            seen.append(address)
    return seen


def _loop_reason(env, msg: IncomingMessage, targets: list[Target]) -> str | None:
    """Why the sender looks like a mail loop, or None."""
    if not msg.from_email or is_allowlisted(env, msg.from_email):
        return None
    threshold = env.params.get("mail.gateway.loop.threshold")
    minutes = env.params.get("mail.gateway.loop.minutes")
    for target in targets:
        if target.creates_record:
            count = messages_in_loop_window(env, msg.from_email, creating=True)
            what = "records created"
        else:
            count = messages_in_loop_window(env, msg.from_email, creating=False, model=target.model,
                                            res_id=target.res_id)
            what = f"messages posted on {target.model} #{target.res_id}"
        if count >= threshold:
            return (f"{msg.from_email} reached {count} {what} within {minutes} minutes "
                    f"(threshold {threshold}): mail loop suspected, message dropped.")
    return None


def decide_route(env, msg: IncomingMessage, server=None) -> RouteDecision:
    """Decide the route of ``msg`` (SPEC §5 steps 2–8) without writing anything."""
    stored = Message.select(Message.gateway_route).where(Message.message_id == msg.message_id).first()
    if stored is not None and stored.gateway_route is not None:
        return RouteDecision("duplicate", msg, reason=f"Message-Id {msg.message_id} is already stored.")
    report, mail_id = _detect_bounce(env, msg)
    if stored is not None and report is None:
        # Our own message came back (a follower address that is an alias, a forwarding loop).
        return RouteDecision("duplicate", msg, reason=f"Message-Id {msg.message_id} is one of our own messages.")
    if report is not None:
        return RouteDecision("bounce", msg, bounce=report, bounce_mail_id=mail_id,
                             reason="Delivery failure report (" + ", ".join(report.recognised_by or ["tag"]) + ").")
    author = _find_author(env, msg)
    decision = _decide_destination(env, msg, server, author)
    if decision.targets:
        loop = _loop_reason(env, msg, decision.targets)
        if loop:
            return RouteDecision("loop", msg, author=author, reason=loop)
    return decision


def _decide_destination(env, msg: IncomingMessage, server, author: Contact | None) -> RouteDecision:
    from addons_mail.mail_server.api import catchall_address

    recipients = _recipients(msg)
    aliases = matching_aliases(env, recipients)
    parent, document = _find_parent(env, msg)
    if document is not None:
        other_models = [alias for _, alias in aliases if alias.model != document[0]]
        if not other_models:
            target = Target("reply", document[0], document[1], parent=parent)
            return RouteDecision("reply", msg, author=author, targets=[target],
                                 reason=f"Reply to {document[0]} #{document[1]}.")
        aliases = [(address, alias) for address, alias in aliases if alias in other_models]
    if aliases:
        targets, refusals = [], []
        for _, alias in aliases:
            allowed, why = is_sender_allowed(env, alias, msg.from_email, author)
            if allowed:
                targets.append(_alias_target(alias))
            else:
                refusals.append(why)
        if targets:
            names = ", ".join(t.alias.address for t in targets)
            return RouteDecision("alias", msg, author=author, targets=targets, reason=f"Alias {names}.")
        return RouteDecision("refused", msg, author=author, refusal=refusals[0], reason=refusals[0])
    catchall = catchall_address(env)
    if catchall and msg.to and all(address == catchall for address in msg.to):
        why = (f"The address {catchall} only receives replies to existing conversations; "
               "write to the address of a team or document instead.")
        return RouteDecision("catchall_refused", msg, author=author, refusal=why, reason=why)
    default_model = getattr(server, "object_model", None) if server is not None else None
    if default_model:
        return RouteDecision("default_model", msg, author=author, targets=[Target("default_model", default_model)],
                             reason=f"Default model {default_model} of the incoming server {server.name}.")
    error = (f"No route found for message from {msg.from_email or '(no sender)'} to "
             f"{', '.join(recipients) or '(no recipient)'}")
    return RouteDecision("dead_letter", msg, author=author, error=error, reason=error + ".")


# -- applying ------------------------------------------------------------------------------------

def _attachments_to_keep(msg: IncomingMessage, server) -> list:
    keep = getattr(server, "keep_attachments", True) if server is not None else True
    attachments = list(msg.attachments) if keep else []
    if server is not None and getattr(server, "keep_original", False):
        attachments.append(("original_email.eml", msg.raw, "message/rfc822"))
    return attachments


def _deliver(env, decision: RouteDecision, target: Target, server, message_id: str | None) -> tuple[str, int]:
    from addons_mail.chatter.thread import record_of, thread_model

    msg = decision.msg
    if target.creates_record:
        record = message_new(env, thread_model(env, target.model), msg, target.defaults)
        route_tag = "alias_new" if target.kind == "alias_new" else "default_model"
    else:
        record = record_of(env, target.model, target.res_id)
        route_tag = target.kind
    author = decision.author
    if author is None:
        author = formataddr((msg.from_name, msg.from_email)) if msg.from_email else (msg.from_name or "Unknown sender")
    message_post(
        env, record, msg.body_html, author=author, subject=msg.subject or None, message_type="email",
        parent=target.parent, message_id=message_id, attachments=_attachments_to_keep(msg, server),
        notify=not msg.is_auto_reply, is_auto_reply=msg.is_auto_reply, gateway_route=route_tag,
    )
    if target.alias is not None and target.alias.status != "valid":
        Alias.update(status="valid", status_reason=None).where(Alias.id == target.alias.id).execute()
        target.alias.status, target.alias.status_reason = "valid", None
    return record.model_name, record.id


def _deliver_to_targets(env, decision: RouteDecision, raw: bytes, server) -> dict:
    from addons_mail.fetchmail.api import store_dead_letter

    result = decision.as_result()
    delivered, errors = [], []
    for index, target in enumerate(decision.targets):
        try:
            with env.atomic(savepoint=True):
                delivered.append(_deliver(env, decision, target, server,
                                          decision.msg.message_id if index == 0 else None))
        except Exception as error:  # one failing target (a model refusing the mail) must not lose it
            log.exception("The gateway could not deliver %s to %s", decision.msg.message_id, target.model)
            text = f"{type(error).__name__}: {error}"
            errors.append(f"{target.model}: {text}")
            if target.alias is not None:
                Alias.update(status="invalid", status_reason=text[:500]).where(Alias.id == target.alias.id).execute()
                target.alias.status, target.alias.status_reason = "invalid", text[:500]
    if not delivered:
        error = "The message could not be posted: " + "; ".join(errors)
        store_dead_letter(env, raw, error, server=server, message_id=decision.msg.message_id)
        result.update(route="dead_letter", error=error, model=None, res_id=None)
        return result
    result["model"], result["res_id"] = delivered[0]
    if len(decision.targets) > 1:
        result["targets"] = [{"model": m, "res_id": r} for m, r in delivered]
    if errors:
        result["error"] = "; ".join(errors)
    return result


def apply_route(env, decision: RouteDecision, raw: bytes, server=None) -> dict:
    """Carry out ``decision`` and return the ``GatewayResult`` dict."""
    from addons_mail.fetchmail.api import store_dead_letter

    msg = decision.msg
    if decision.route == "duplicate":
        log.info("Duplicate message %s from %s ignored", msg.message_id, msg.from_email)
        return decision.as_result()
    if decision.route == "bounce":
        apply_bounce(env, decision.bounce, decision.bounce_mail_id)
        return decision.as_result()
    reset_bounce_counter(msg.from_email)
    if decision.route == "loop":
        first_of_episode = record_loop_drop(env, msg.from_email, decision.reason)
        log.log(logging.WARNING if first_of_episode else logging.INFO, "%s", decision.reason)
        return decision.as_result()
    if decision.route in ("refused", "catchall_refused"):
        result = decision.as_result()
        result["replied"] = send_refusal_reply(env, msg, decision.refusal)
        return result
    if decision.route == "dead_letter":
        store_dead_letter(env, raw, decision.error, server=server, message_id=msg.message_id)
        return decision.as_result()
    return _deliver_to_targets(env, decision, raw, server)


# -- entry points (the hooks) -----------------------------------------------------------------------

def process_incoming(env, raw: bytes, server=None) -> dict:
    """Route and store one raw incoming message; the ``process_incoming_message`` hook."""
    msg = parse_incoming(raw)
    with env.atomic():
        taken = env.pm.hook.route_incoming_message(env=env, message=msg)
        if taken is not None:
            return dict(taken)
        return apply_route(env, decide_route(env, msg, server), raw, server)


def explain_incoming(env, raw: bytes, server=None) -> dict:
    """How ``raw`` would be routed, writing nothing; the ``explain_incoming_message`` hook.

    A plugin's ``route_incoming_message`` is asked inside a transaction that is rolled back.
    """
    msg = parse_incoming(raw)
    pending = list(env._on_commit)
    with env.db.atomic() as transaction:
        taken = env.pm.hook.route_incoming_message(env=env, message=msg)
        transaction.rollback()
    env._on_commit[:] = pending
    if taken is not None:
        return dict(taken)
    result = decide_route(env, msg, server).as_result()
    result["explain"] = True
    return result
