"""The mass_mailing plugin: models, parameters, scheduled action, commands, and the subscribers that
keep traces in step with the queue and the gateway."""
from kernel import hookimpl


@hookimpl
def register_models(register):
    from addons_mail.mass_mailing.models import MODELS

    for model in MODELS:
        register(model)


@hookimpl
def register_parameters(register):
    register("mass_mailing.outgoing_mail_server", False, bool,
             help="Send mass mailings through a dedicated server (mass_mailing.mail_server_id).")
    register("mass_mailing.mail_server_id", None, int, help="Id of the dedicated mass-mailing server.")
    register("mass_mailing.batch.size", 1000, int, help="Recipients rendered and queued per transaction.")


@hookimpl
def register_cron_jobs(register):
    from addons_mail.mass_mailing.scheduled import send_due_mailings

    register("Mass mailing: send due mailings", send_due_mailings, 60,
             description="Start queued mailings whose date has come, and finish the ones fully sent.")


@hookimpl
def register_commands(cli):
    from addons_mail.mass_mailing.cli import register_mass_mailing_commands

    register_mass_mailing_commands(cli)


@hookimpl
def after_mail_sent(env, mails):
    from addons_mail.mass_mailing.trace_updates import ORIGIN, mark_traces_sent

    mark_traces_sent(env, [mail.id for mail in mails if getattr(mail, "origin", None) == ORIGIN])


@hookimpl
def after_mail_failed(env, mail, failure_type, reason, permanent):
    from addons_mail.mass_mailing.trace_updates import ORIGIN, mark_trace_failed

    if getattr(mail, "origin", None) == ORIGIN:
        mark_trace_failed(env, mail.id, failure_type, reason, permanent)


@hookimpl
def after_mail_bounced(env, bounce):
    from addons_mail.mass_mailing.automatic_blacklist import apply_automatic_blacklist
    from addons_mail.mass_mailing.trace_updates import mark_trace_bounced

    mark_trace_bounced(env, bounce)
    if bounce.kind == "hard" and bounce.email:
        apply_automatic_blacklist(env, bounce.email.lower(), bounce.received_at)


@hookimpl
def route_incoming_message(env, message):
    from addons_mail.mass_mailing.incoming import route_unsubscribe_or_reply

    return route_unsubscribe_or_reply(env, message)


@hookimpl
def choose_outgoing_server(env, mail, from_address):
    from addons_mail.mass_mailing.dedicated_server import choose_transactional_server

    return choose_transactional_server(env, from_address)
