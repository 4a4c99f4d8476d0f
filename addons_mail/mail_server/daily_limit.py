"""The daily sending limit, counted per UTC day across every worker (SPEC §2.4).

Workers reserve a share of the day's quota with a conditional UPDATE before they claim mails, and
give back what they did not send, so the limit holds however many workers run at once.
"""
import datetime

from addons_mail.mail_server.models import MailDailyCount

ONLINE_DAILY_LIMIT = 200
GLOBAL = 0


def daily_limit(env) -> int:
    """``mail.daily.limit``; when unset, 200 in the ``online`` hosting profile and unlimited (0) otherwise."""
    if env.params.get_raw("mail.daily.limit") is None and env.params.get("hosting") == "online":
        return ONLINE_DAILY_LIMIT
    return env.params.get("mail.daily.limit") or 0


def next_utc_midnight(env) -> datetime.datetime:
    return datetime.datetime.combine(env.clock.today() + datetime.timedelta(days=1), datetime.time())


def limit_reason(limit: int) -> str:
    return f"Daily email limit of {limit} reached; sending resumes at 00:00 UTC"


def _ensure_row(day, server_id: int) -> None:
    (MailDailyCount.insert(day=day, server_id=server_id, sent=0)
     .on_conflict_ignore().execute())


def sent_today(env, server_id: int = GLOBAL) -> int:
    row = MailDailyCount.get_or_none(MailDailyCount.day == env.clock.today(), MailDailyCount.server_id == server_id)
    return row.sent if row else 0


def reserve(env, wanted: int, limit: int, server_id: int = GLOBAL) -> int:
    """Reserve up to ``wanted`` sends of today's quota ``limit`` (0: unlimited); return how many were granted."""
    day = env.clock.today()
    _ensure_row(day, server_id)
    if limit <= 0:
        return wanted
    for _ in range(20):
        granted = min(wanted, limit - sent_today(env, server_id))
        if granted <= 0:
            return 0
        updated = (MailDailyCount.update(sent=MailDailyCount.sent + granted)
                   .where(MailDailyCount.day == day, MailDailyCount.server_id == server_id,
                          MailDailyCount.sent + granted <= limit)
                   .execute())
        if updated:
            return granted
    return 0


def record(env, count: int, server_id: int = GLOBAL) -> None:
    """Add ``count`` (negative: give back a reservation) to today's counter."""
    if count == 0:
        return
    day = env.clock.today()
    _ensure_row(day, server_id)
    (MailDailyCount.update(sent=MailDailyCount.sent + count)
     .where(MailDailyCount.day == day, MailDailyCount.server_id == server_id).execute())
