"""Opening the database and the base class of every record."""
import json
import os

import peewee
from playhouse.db_url import connect as connect_url

from kernel.errors import UserError

DEFAULT_SQLITE_FILE = "juniper.db"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # a worker and the CLI can share the file
    "busy_timeout": 15000,  # milliseconds to wait for a writer instead of failing at once
    "foreign_keys": 1,
    "synchronous": "normal",
}


def database_url_from(url: str | None) -> str:
    """The database URL to use: ``url``, else ``$JUNIPER_DB``, else ``juniper.db`` here."""
    return url or os.environ.get("JUNIPER_DB") or DEFAULT_SQLITE_FILE


def open_database(url: str | None = None) -> peewee.Database:
    """Open a database by URL (``postgresql://…``, ``sqlite:///path``) or by SQLite file path."""
    url = database_url_from(url)
    if "://" not in url:
        return peewee.SqliteDatabase(url, pragmas=SQLITE_PRAGMAS, timeout=15)
    if url.startswith("sqlite"):
        return connect_url(url, pragmas=SQLITE_PRAGMAS, timeout=15)
    if url.startswith(("postgres", "postgresql")):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise UserError(
                "PostgreSQL support is not installed.",
                hint="Run: pip install 'juniper[postgres]'.",
            ) from None
    try:
        return connect_url(url)
    except RuntimeError as exc:
        raise UserError(f"Unsupported database URL {url!r}: {exc}.") from None


def is_postgres(database: peewee.Database) -> bool:
    return isinstance(database, peewee.PostgresqlDatabase)


class JSONField(peewee.TextField):
    """A JSON document stored as text (portable between SQLite and PostgreSQL)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    """Base of every Juniper record.

    Subclasses set ``model_name`` (``"crm.lead"``): the public name used by hooks, aliases and the
    CLI. Models are bound to the environment's database when the environment opens.
    """

    model_name: str = ""

    class Meta:
        legacy_table_names = False
