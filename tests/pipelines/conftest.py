"""A fresh PostgreSQL database per session for the production-profile MLflow backend."""

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import fail_in_ci_else_skip

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own (unique name), dropped afterwards; its SQLAlchemy URL.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3; the project ships psycopg2, so the
    URL names its driver.
    """
    import psycopg2

    try:
        admin = psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        fail_in_ci_else_skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc}")
    admin.autocommit = True
    name = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg2://')}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
