"""A fresh PostgreSQL database per session for the production-profile MLflow backend."""

from collections.abc import Iterator

import pytest

from tests.conftest import fail_in_ci_else_skip

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own (unique name), dropped afterwards; its SQLAlchemy URL (psycopg2 driver)."""
    import psycopg2

    from shipyard_cli.prod_demo import temporary_database

    try:
        psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        fail_in_ci_else_skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc}")
    with temporary_database(f"{POSTGRES}/postgres") as url:
        yield url
