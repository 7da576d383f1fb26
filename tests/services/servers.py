"""Start real servers (Prefect, MLflow) on free loopback ports as subprocesses; stop them by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fti.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def launch(command: Sequence[str], env: dict[str, str], url: str, log: Path) -> Server:
    """Run `command` in its own process group; `wait_healthy` waits for it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    process = subprocess.Popen(
        list(command),
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(process, url, log)


def wait_healthy(server: Server, health_path: str, timeout: float = 120.0) -> Server:
    """Wait until GET url+health_path answers 200; stop the server and raise if it never does."""
    name = Path(str(server.process.args[0] if isinstance(server.process.args, list) else "")).name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {server.process.returncode}: {server.log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(server.url + health_path, timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(
        f"{name} not healthy after {timeout:.0f} s: {server.log.read_text()[-2000:]}"
    )


def start(
    command: Sequence[str],
    env: dict[str, str],
    url: str,
    health_path: str,
    log: Path,
    timeout: float = 120.0,
) -> Server:
    """Run `command` in its own process group and wait until GET url+health_path answers 200."""
    return wait_healthy(launch(command, env, url, log), health_path, timeout)


MLFLOW_ADMIN, MLFLOW_PASSWORD = "admin", "s3cret-for-tests"


def start_mlflow(workdir: Path, backend_url: str, wait: bool = True) -> Server:
    """`mlflow server --app-name basic-auth` as docker-compose.yml runs it: PostgreSQL backend,
    served artifacts, basic auth (admin MLFLOW_ADMIN / MLFLOW_PASSWORD), on a free port.
    With wait=False it returns at once: `wait_healthy(server, "/health")` before using it."""
    import sys

    from fti.settings import REPO_ROOT

    workdir.mkdir(parents=True, exist_ok=True)
    ini = (REPO_ROOT / "deploy" / "mlflow" / "basic_auth.ini").read_text()
    (workdir / "auth.ini").write_text(
        ini.replace("sqlite:////mlflow/basic_auth.db", f"sqlite:///{workdir / 'basic_auth.db'}")
    )
    port = free_port()
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(workdir / "auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": MLFLOW_ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": MLFLOW_PASSWORD,
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
        backend_url,
        "--artifacts-destination",
        str(workdir / "artifacts"),
        "--serve-artifacts",
        "--workers",
        "1",
    ]
    server = launch(command, env, f"http://127.0.0.1:{port}", workdir / "mlflow.log")
    return wait_healthy(server, "/health") if wait else server


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[Settings]:
    """os.environ with these values (empty string: unset) for the flows of one profile."""
    old = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)
    try:
        yield Settings()
    finally:
        for key, previous in old.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
