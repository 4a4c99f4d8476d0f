"""The mail_server plugin: its models, parameters, scheduled action and commands."""
from kernel import hookimpl


@hookimpl
def register_models(register):
    from addons_mail.mail_server.models import MODELS

    for model in MODELS:
        register(model)


@hookimpl
def register_parameters(register):
    register("mail.catchall.domain", None, str, help="Alias domain, e.g. mycompany.com.")
    register("mail.catchall.alias", "catchall", str, help="Local part of the catchall address.")
    register("mail.bounce.alias", "bounce", str, help="Local part of the bounce address.")
    register("mail.bounce.verp", True, bool, help="Tag the bounce address per mail (bounce+<token>@domain).")
    register("mail.default.from", "notifications", str, help="Local part, or full address, of the default From.")
    register("mail.default.from_filter", None, str,
             help="from_filter of the configured default server (used when no server record exists).")
    register("mail.catchall.domain.allowed", None, str,
             help="Comma list of domains for which a local-part-only alias match is allowed.")
    register("mail.daily.limit", 0, int,
             help="Emails that may leave per UTC day (0: unlimited; 200 when unset in the online profile).")
    register("mail.session.batch.size", 1000, int, help="Mails sent over one SMTP session before it is renewed.")
    register("mail.queue.batch.size", 10000, int, help="Mails claimed by one queue run.")
    register("mail.queue.claim.size", 50, int,
             help="Mails claimed per database round trip; after a crash at most this many may be sent twice.")
    register("mail.queue.lease.seconds", 600, int,
             help="How long a claimed mail stays reserved for its worker before another may take it.")
    register("mail.queue.max.attempts", 10, int, help="Attempts before a temporary failure becomes final.")
    register("mail.ratelimit.pause.seconds", 60, int,
             help="How long a server that answered 'too many messages' is left alone.")
    register("mail.smtp.host", "localhost", str, help="Host of the configured default server.")
    register("mail.smtp.port", 25, int, help="Port of the configured default server.")
    register("mail.smtp.encryption", "none", str, help="none, starttls or ssl for the configured default server.")
    register("mail.smtp.user", None, str, help="Login of the configured default server.")
    register("mail.smtp.password", None, str, help="Password of the configured default server.")


@hookimpl
def register_cron_jobs(register):
    from addons_mail.mail_server.queue import run_queue_job

    register("Mail: Email Queue Manager", run_queue_job, 60,
             description="Send the queued outgoing mails that are due.")


@hookimpl
def register_commands(cli):
    from addons_mail.mail_server.cli import register_mail_commands

    register_mail_commands(cli)
