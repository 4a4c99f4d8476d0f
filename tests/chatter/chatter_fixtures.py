"""Fixtures of the chatter tests: an environment with chatter and a throwaway ticket addon installed.

Import them in a test module with ``from tests.chatter.chatter_fixtures import *``.
"""
import logging
from pathlib import Path

import pytest

from kernel.env import open_environment
from kernel.installer import install_addons
from kernel.models import Contact, User

__all__ = ["chatter_env", "count_statements", "make_user", "raw_email", "StatementCounter"]

TEST_ADDONS = Path(__file__).parent / "addons"
ALIAS_DOMAIN = "example.com"


@pytest.fixture
def chatter_env(monkeypatch, db_url, clock):
    """A fresh environment (SQLite, and PostgreSQL when configured) with ``chatter`` and the throwaway
    ``chatter_test_tickets`` addon (models ``test.ticket`` and ``test.project``), alias domain example.com."""
    monkeypatch.setenv("JUNIPER_ADDONS_PATH", str(TEST_ADDONS))
    env = open_environment(db_url, clock=clock)
    env.ensure_initialized("Juniper Test Company", "admin@example.com")
    install_addons(env, ["chatter", "chatter_test_tickets"])
    env.params.set("mail.catchall.domain", ALIAS_DOMAIN)
    yield env
    env.close()


def make_user(env, login: str, email: str, preference: str = "email") -> Contact:
    contact = Contact.create(name=login.title(), email=email, company=env.company)
    User.create(login=login, contact=contact, company=env.company, notification_preference=preference)
    return contact


def raw_email(*, sender="Customer <customer@client.example>", to="sales@example.com", subject="Hello",
              body="Hi there", message_id=None, headers=None, html=None) -> bytes:
    """A small RFC 5322 message as bytes."""
    import uuid

    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@client.example>'}",
             "Date: Fri, 04 Dec 2026 10:00:00 +0000", "MIME-Version: 1.0"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if html is not None:
        lines += ["Content-Type: text/html; charset=utf-8", "", html]
    else:
        lines += ["Content-Type: text/plain; charset=utf-8", "", body]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


class StatementCounter(logging.Handler):
    """Counts the SQL statements peewee runs (it logs each on logger 'peewee' at DEBUG)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record):
        message = record.msg
        self.statements.append(message[0] if isinstance(message, tuple) else str(message))


class count_statements:
    """``with count_statements() as counter: ...`` then ``len(counter.statements)``."""

    def __enter__(self) -> StatementCounter:
        self.logger = logging.getLogger("peewee")
        self.handler = StatementCounter()
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self.handler

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        return False
