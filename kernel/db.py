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


class MonotonicAutoField(peewee.AutoField):
    """A primary key never handed out twice, even after rows are deleted (SQLite's AUTOINCREMENT;
    PostgreSQL sequences never reuse values). Use it where an id leaves the database, e.g. in a
    bounce address, and its row may be deleted later."""

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if isinstance(self.model._meta.database, peewee.SqliteDatabase):
            return peewee.NodeList((node, peewee.SQL("AUTOINCREMENT")))
        return node


class BaseModel(peewee.Model):
    """Base of every Juniper record.

    Subclasses set ``model_name`` (``"crm.lead"``): the public name used by hooks, aliases and the
    CLI. Models are bound to the environment's database when the environment opens.
    """

    model_name: str = ""

    class Meta:
        legacy_table_names = False


def bulk_insert(database: peewee.Database, model, rows: list[dict], chunk_size: int = 1000) -> list[int]:
    """Insert ``rows`` (dicts of field name -> Python value) and return their ids, in order.

    The DB-API's own batch call does the work (``executemany`` on SQLite, ``execute_values`` with
    ``RETURNING id`` on PostgreSQL): building one peewee query per chunk costs more than the insert.
    On SQLite the call must run inside a transaction: the write lock it holds makes the new ids
    consecutive, so they are read back from ``last_insert_rowid()``.
    """
    if not rows:
        return []
    fields = model._meta.fields
    keys = set().union(*rows)
    columns = [name for name in fields if name != "id" and (name in keys or fields[name].default is not None)]
    defaults = {}
    for name in columns:
        field = fields[name]
        defaults[name] = field.default() if callable(field.default) else field.default
    converters = [fields[name].db_value for name in columns]
    table = model._meta.table_name
    column_sql = ", ".join(f'"{fields[name].column_name}"' for name in columns)
    ids: list[int] = []
    for start in range(0, len(rows), chunk_size):
        values = [tuple(convert(row.get(name, defaults[name])) for name, convert in zip(columns, converters))
                  for row in rows[start:start + chunk_size]]
        if is_postgres(database):
            from psycopg2.extras import execute_values

            cursor = database.cursor()
            result = execute_values(cursor, f'INSERT INTO "{table}" ({column_sql}) VALUES %s RETURNING id',
                                    values, page_size=len(values), fetch=True)
            ids.extend(row[0] for row in result)
        else:
            if not database.in_transaction():
                raise RuntimeError("bulk_insert on SQLite must run inside a transaction")
            cursor = database.cursor()
            placeholders = ", ".join("?" for _ in columns)
            cursor.executemany(f'INSERT INTO "{table}" ({column_sql}) VALUES ({placeholders})', values)
            last = database.execute_sql("SELECT last_insert_rowid()").fetchone()[0]
            ids.extend(range(last - len(values) + 1, last + 1))
    return ids
