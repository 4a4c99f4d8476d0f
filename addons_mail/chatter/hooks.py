"""The chatter plugin: its models, parameters, commands, queue subscriptions and the mail gateway."""
from kernel import hookimpl


@hookimpl
def register_models(register):
    from addons_mail.chatter.models import CHATTER_MODELS

    for model in CHATTER_MODELS:
        register(model)


@hookimpl
def register_parameters(register):
    register("mail.gateway.loop.minutes", 120, int, help="Loop detection window, in minutes.")
    register("mail.gateway.loop.threshold", 20, int,
             help="Records created (or messages on one document) by one sender within the window before "
                  "further mail from that sender is dropped.")
    register("mail.gateway.loop.allowlist", "", str,
             help="Comma list of addresses or domains exempt from loop detection.")


@hookimpl
def register_commands(cli):
    from addons_mail.chatter.cli import register_chatter_commands

    register_chatter_commands(cli)


@hookimpl
def after_mail_sent(env, mails):
    from addons_mail.chatter.notify import mark_notifications_sent

    mark_notifications_sent([mail.id for mail in mails])


@hookimpl
def after_mail_failed(env, mail, failure_type, reason, permanent):
    from addons_mail.chatter.notify import mark_notifications_failed

    if permanent:
        mark_notifications_failed([mail.id], failure_type, reason)


@hookimpl
def process_incoming_message(env, raw, server):
    from addons_mail.chatter.gateway import process_incoming

    return process_incoming(env, raw, server)


@hookimpl
def explain_incoming_message(env, raw):
    from addons_mail.chatter.gateway import explain_incoming

    return explain_incoming(env, raw)
