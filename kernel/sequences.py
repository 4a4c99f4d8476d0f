"""Document numbers (SO0001, INV/2026/0001): one counter row per sequence code.

The next number is taken by one ``UPDATE … RETURNING`` on the counter row, so two workers creating
documents at once never get the same number (the row lock serializes them on PostgreSQL; SQLite has
one writer at a time), and no query scans existing documents.
"""
from kernel.models import SequenceCounter


def next_number(env, code: str, prefix: str = "", width: int = 4) -> str:
    """``prefix`` followed by the next value of the sequence ``code``, zero-padded to ``width``."""
    table = SequenceCounter._meta.table_name
    placeholder = "%s" if env.is_postgres else "?"
    with env.atomic():
        (SequenceCounter.insert(code=code, last_value=0)
         .on_conflict_ignore().execute())
        cursor = env.db.execute_sql(
            f'UPDATE "{table}" SET last_value = last_value + 1 WHERE code = {placeholder} RETURNING last_value',
            [code])
        value = cursor.fetchone()[0]
    return f"{prefix}{value:0{width}d}"
