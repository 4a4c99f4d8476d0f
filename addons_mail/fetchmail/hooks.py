"""The fetchmail plugin: its records, its scheduled action and its commands."""
from kernel import hookimpl

FETCH_INTERVAL_SECONDS = 300


@hookimpl
def register_models(register):
    from addons_mail.fetchmail.models import DeadLetter, ImapCheckpoint, IncomingServer

    for model in (IncomingServer, ImapCheckpoint, DeadLetter):
        register(model)


@hookimpl
def register_cron_jobs(register):
    from addons_mail.fetchmail.fetch import fetch_all

    register("Mail: Fetchmail Service", fetch_all, FETCH_INTERVAL_SECONDS,
             description="Fetch new mail of every confirmed incoming server and hand it to the gateway.")


@hookimpl
def register_commands(cli):
    from addons_mail.fetchmail import cli as fetchmail_cli

    fetchmail_cli.register(cli)
