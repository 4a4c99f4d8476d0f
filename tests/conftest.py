"""Fixtures shared by the whole suite: fresh environments on SQLite and PostgreSQL, and the peers."""
import os
import uuid

import pytest

from kernel.clock import Clock
from kernel.env import open_environment
from kernel.installer import install_addons

pytest_plugins = ["tests.peers.fixtures"]

POSTGRES_URL = os.environ.get("JUNIPER_TEST_POSTGRES")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def _fresh_postgres_url() -> tuple[str, str]:
    """A URL whose connections use a new, empty schema of the test database."""
    import peewee
    from playhouse.db_url import connect

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = connect(POSTGRES_URL)
    try:
        admin.execute_sql(f"CREATE SCHEMA {schema}")
    except peewee.OperationalError as exc:
        pytest.fail(f"JUNIPER_TEST_POSTGRES={POSTGRES_URL} is set but unusable: {exc}")
    finally:
        admin.close()
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", schema


def _drop_postgres_schema(schema: str) -> None:
    from playhouse.db_url import connect

    admin = connect(POSTGRES_URL)
    admin.execute_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.close()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """The URL of a fresh, empty database: a SQLite file, or (with JUNIPER_TEST_POSTGRES) a new schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "juniper.db")
        return
    url, schema = _fresh_postgres_url()
    yield url
    _drop_postgres_schema(schema)


@pytest.fixture
def sqlite_url(tmp_path):
    return str(tmp_path / "juniper.db")


@pytest.fixture
def clock():
    """A frozen clock tests can move (``clock.advance(days=1)``)."""
    return Clock(frozen=Clock().now().replace(microsecond=0))


@pytest.fixture
def env(db_url, clock):
    """A fresh, initialized environment (company + admin user) on each backend."""
    environment = open_environment(db_url, clock=clock)
    environment.ensure_initialized("Test Company", "admin@example.com")
    yield environment
    environment.close()


@pytest.fixture
def install():
    """``install(env, "addon", ...)``: install addons into a test environment."""
    return lambda environment, *names: install_addons(environment, list(names))
