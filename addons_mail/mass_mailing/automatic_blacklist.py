"""The automatic blacklist rule of SPEC §6, read from the bounce history (chatter's ``mail.bounce``).

An address is blacklisted when it hard-bounced at least ``HARD_BOUNCE_THRESHOLD`` times within the
last ``WINDOW`` AND the first and the last of those bounces are more than ``MINIMUM_SPREAD`` apart,
so that one bad day of a receiving server blacklists nobody. Soft bounces never count.
"""
import datetime

from addons_mail.mass_mailing.blacklist import add_to_blacklist, blacklisted_among, post_note

HARD_BOUNCE_THRESHOLD = 5
WINDOW = datetime.timedelta(days=30)
MINIMUM_SPREAD = datetime.timedelta(days=7)
AUTHOR = "automatic blacklist"


def recent_hard_bounce_times(env, email: str, also: datetime.datetime | None = None) -> list[datetime.datetime]:
    """When ``email`` hard-bounced within the window, oldest first. ``also`` is a bounce being
    reported right now, counted even if its history row is not written yet."""
    bounce_model = env["mail.bounce"]
    since = env.clock.now() - WINDOW
    times = [row.received_at for row in bounce_model.select(bounce_model.received_at).where(
        (bounce_model.email_normalized == email) & (bounce_model.kind == "hard")
        & (bounce_model.received_at >= since))]
    if also is not None and also >= since and also not in times:
        times.append(also)
    return sorted(times)


def apply_automatic_blacklist(env, email: str, received_at: datetime.datetime | None = None) -> bool:
    """Blacklist ``email`` when its hard-bounce history meets the rule; True when it did."""
    if not email or blacklisted_among([email]):
        return False
    times = recent_hard_bounce_times(env, email, received_at)
    if len(times) < HARD_BOUNCE_THRESHOLD or times[-1] - times[0] <= MINIMUM_SPREAD:
        return False
    first, last = (moment.strftime("%Y-%m-%d %H:%M") for moment in (times[0], times[-1]))
    note = f"added automatically: {len(times)} bounces between {first} and {last}"
    entry = add_to_blacklist(env, email, note, author=AUTHOR, note=note)
    post_note(env, note, contact_email=email, author=AUTHOR)
    return entry is not None
