"""The production MLflow server: basic auth on PostgreSQL, nothing readable without credentials."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.servers import MLFLOW_ADMIN, MLFLOW_PASSWORD, Server, start_mlflow

ADMIN, PASSWORD = MLFLOW_ADMIN, MLFLOW_PASSWORD


@pytest.fixture
def mlflow_server(tmp_path: Path, pg_url: str) -> Iterator[Server]:
    """`mlflow server --app-name basic-auth` as docker-compose.yml runs it, on a free port."""
    server = start_mlflow(tmp_path / "mlflow", pg_url)
    try:
        yield server
    finally:
        server.stop()


def _get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


def test_mlflow_server_requires_credentials(mlflow_server: Server) -> None:
    url = f"{mlflow_server.url}/api/2.0/mlflow/experiments/search?max_results=5"
    assert _get(url)[0] == 401
    assert _get(url, (ADMIN, "wrong"))[0] == 401
    status, body = _get(url, (ADMIN, PASSWORD))
    assert status == 200
    assert any(e["name"] == "Default" for e in body["experiments"])
