"""The gateway resolver of mass mailing: ``unsubscribe+<token>@<alias domain>`` opts out (the mailto
of List-Unsubscribe), and a reply to a mailing mail marks its trace ``reply``."""
import logging

from addons_mail.mass_mailing.trace_updates import mark_trace_replied
from addons_mail.mass_mailing.unsubscribe import unsubscribe
from addons_mail.mass_mailing.unsubscribe_tokens import token_from_mailto

log = logging.getLogger("juniper.mass_mailing.incoming")


def unsubscribe_token_of(env, message) -> str | None:
    domain = env.params.get("mail.catchall.domain")
    for address in [*message.to, *message.cc, *message.delivered_to]:
        token = token_from_mailto(address, domain)
        if token is not None:
            return token
    return None


def route_unsubscribe_or_reply(env, message) -> dict | None:
    """A GatewayResult for a mail to an unsubscribe address; None (let the gateway route it) otherwise."""
    token = unsubscribe_token_of(env, message)
    if token is None:
        mark_trace_replied(env, message.reply_ids)
        return None
    result = {"route": "unsubscribe", "model": "mailing.mailing", "res_id": None, "auto_reply": False,
              "author": message.from_email, "message_id": message.message_id}
    done = unsubscribe(env, token, "email")
    if done is None:
        log.warning("refused an unsubscribe mail from %s: the token is not genuine", message.from_email)
        return {**result, "route": "refused", "error": "The unsubscribe address is not genuine."}
    log.info("%s unsubscribed by email from mailing %s", done.email, done.mailing_id)
    return {**result, "res_id": done.mailing_id}
