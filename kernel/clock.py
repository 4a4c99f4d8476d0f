"""The environment's clock: real UTC time, or a time that tests set and move."""
import datetime
import os

CLOCK_ENV = "JUNIPER_NOW"


class Clock:
    """Naive UTC datetimes (the way they are stored). ``set``/``advance`` freeze it for tests.

    ``$JUNIPER_NOW`` (ISO 8601) freezes it in a subprocess, so a test can start a worker "tomorrow".
    """

    def __init__(self, frozen: datetime.datetime | None = None):
        if frozen is None and os.environ.get(CLOCK_ENV):
            frozen = datetime.datetime.fromisoformat(os.environ[CLOCK_ENV])
        self._frozen = self._naive_utc(frozen) if frozen else None

    @staticmethod
    def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return moment

    def now(self) -> datetime.datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def today(self) -> datetime.date:
        return self.now().date()

    @property
    def is_frozen(self) -> bool:
        return self._frozen is not None

    def set(self, moment: datetime.datetime) -> None:
        self._frozen = self._naive_utc(moment)

    def advance(self, **delta) -> datetime.datetime:
        self._frozen = self.now() + datetime.timedelta(**delta)
        return self._frozen

    def unfreeze(self) -> None:
        self._frozen = None
