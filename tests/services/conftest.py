"""Service tests: real PostgreSQL and Redis on 127.0.0.1, each test in its own database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

PG_HOST = os.environ.get("FTI_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FTI_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("FTI_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("FTI_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("FTI_TEST_REDIS_PORT", "6379"))
# Redis logical databases reserved for these tests (others use 0 and their own prefixes).
REDIS_DBS = (11, 12, 13, 14)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "services":
            item.add_marker(pytest.mark.services)


@pytest.fixture
def _harness(prefect_harness: None) -> None:
    """Opt-in Prefect harness for service tests that run flows."""


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], str]]:
    """Make fresh PostgreSQL databases on demand (postgresql+psycopg://...), dropped afterwards."""
    if not _reachable(PG_HOST, PG_PORT):
        skip_or_fail(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}")
    import psycopg

    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
    made: list[str] = []

    def make() -> str:
        name = f"fti_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    try:
        yield make
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            for name in made:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_databases: Callable[[], str]) -> str:
    """A fresh PostgreSQL database, dropped afterwards: postgresql+psycopg://..."""
    return pg_databases()


@pytest.fixture
def redis_db() -> Iterator[int]:
    """An emptied Redis logical database reserved for service tests."""
    if not _reachable(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    import redis

    db = REDIS_DBS[0]
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    try:
        yield db
    finally:
        client.flushdb()
        client.close()
