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
# Redis logical databases reserved for these tests (others use 0 and their own prefixes; 11 is
# tests/unit/test_feast_online.py's).
REDIS_DBS = (12, 13, 14, 15)


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
    """An emptied Redis logical database reserved for service tests, claimed for this test.

    Test sessions of other checkouts may run at the same time on the same Redis: each test
    claims one of REDIS_DBS with SET NX (a key in db 0, expiring after an hour) before it
    empties it, and waits up to a minute for one to be free.
    """
    if not _reachable(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    import time

    import redis

    claims = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + 60
    db = None
    while db is None:
        db = next(
            (
                d
                for d in REDIS_DBS
                if claims.set(f"fti-tests:redis-db:{d}", token, nx=True, ex=3600)
            ),
            None,
        )
        if db is None:
            if time.monotonic() > deadline:
                skip_or_fail(f"every Redis test database {REDIS_DBS} is claimed by other tests")
            time.sleep(1)
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    try:
        yield db
    finally:
        client.flushdb()
        client.close()
        if claims.get(f"fti-tests:redis-db:{db}") == token.encode():
            claims.delete(f"fti-tests:redis-db:{db}")
        claims.close()
