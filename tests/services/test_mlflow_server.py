"""The production MLflow server: basic auth on PostgreSQL, nothing readable without credentials."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.settings import REPO_ROOT
from tests.services.servers import Server, free_port, start

ADMIN, PASSWORD = "admin", "s3cret-for-tests"


@pytest.fixture
def mlflow_server(tmp_path: Path, pg_url: str) -> Iterator[Server]:
    """`mlflow server --app-name basic-auth` as docker-compose.yml runs it, on a free port."""
    ini = (REPO_ROOT / "deploy" / "mlflow" / "basic_auth.ini").read_text()
    auth_db = tmp_path / "basic_auth.db"
    (tmp_path / "auth.ini").write_text(
        ini.replace("sqlite:////mlflow/basic_auth.db", f"sqlite:///{auth_db}")
    )
    port = free_port()
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        pg_url,
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
        "--serve-artifacts",
        "--workers",
        "1",
    ]
    server = start(command, env, f"http://127.0.0.1:{port}", "/health", tmp_path / "mlflow.log")
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
