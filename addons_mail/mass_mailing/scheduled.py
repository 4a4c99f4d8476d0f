"""The scheduled action of mass mailing."""
import logging

from addons_mail.mass_mailing.mailings import finish_if_complete
from addons_mail.mass_mailing.models import Mailing
from addons_mail.mass_mailing.trace_updates import reconcile_outgoing_traces

log = logging.getLogger("juniper.mass_mailing.scheduled")


def send_due_mailings(env) -> None:
    """Send every queued mailing whose date has come; settle traces whose mail the queue finished
    silently; finish sending mailings with nothing left."""
    from addons_mail.mass_mailing.sending import send_mailing

    now = env.clock.now()
    due = (Mailing.select(Mailing.id).where((Mailing.state == "queued")
                                            & (Mailing.scheduled_at.is_null(True) | (Mailing.scheduled_at <= now)))
           .order_by(Mailing.id))
    for mailing in list(due):
        send_mailing(env, mailing.id)
    with env.atomic():
        reconcile_outgoing_traces(env)
    for mailing in list(Mailing.select(Mailing.id).where(Mailing.state == "sending")):
        finish_if_complete(env, mailing.id)
