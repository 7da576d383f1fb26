"""fti.prefect_env.in_process_runs: flow runs keep their task runs, logs and Failed states."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter
from prefect.settings import get_current_settings

from fti.prefect_env import in_process_runs


@task(name="double-value", cache_policy=NONE)
def double_value(x: int) -> int:
    get_run_logger().info("doubling %d", x)
    return 2 * x


@flow(name="prefect-env-check")
def check_flow(x: int) -> int:
    return double_value(x) + double_value(x + 1)


@flow(name="prefect-env-fails")
def failing_flow() -> None:
    raise ValueError("gate said no")


def _eventually(read: Any, ready: Any, timeout_s: float = 60.0) -> Any:
    """Task runs and logs reach the API asynchronously (events, batched logs): poll for them."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def _completed(state: Any) -> bool:
    """A task run's row can reach the API before its first state does (events are async)."""
    return state is not None and bool(state.is_completed())


def test_heartbeats_off_inside_only() -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        with in_process_runs():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == 30


def test_flow_run_keeps_its_task_runs_and_logs() -> None:
    with in_process_runs():
        state = check_flow(3, return_state=True)  # type: ignore[call-overload]
    assert state.is_completed() and state.result() == 14
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        task_runs = _eventually(
            lambda: client.read_task_runs(flow_run_filter=runs),
            lambda found: len(found) == 2 and all(_completed(t.state) for t in found),
        )
        logs = _eventually(
            lambda: client.read_logs(LogFilter(flow_run_id={"any_": [run_id]})),
            lambda found: sum("doubling" in log.message for log in found) == 2,
        )
    assert sorted(t.name.rsplit("-", 1)[0] for t in task_runs) == ["double-value"] * 2
    assert all(_completed(t.state) for t in task_runs)
    assert sum("doubling" in log.message for log in logs) == 2


def test_failed_flow_run_still_ends_failed() -> None:
    with in_process_runs(), pytest.raises(ValueError, match="gate said no"):
        failing_flow()
    with in_process_runs():
        state = failing_flow(return_state=True)  # type: ignore[call-overload]
    assert state.is_failed()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        recorded = client.read_flow_run(run_id).state
    assert recorded is not None and recorded.is_failed()


class _Flaky(BaseHTTPRequestHandler):
    """503 for the first `failures` POSTs (a locked SQLite behind a Prefect server), then 200."""

    failures = 0
    seen: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(body)
        status = 503 if len(self.seen) <= self.failures else 201
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("failures", "status"), [(3, 201), (100, 503)])
def test_quick_retry_transport_resends_a_503_then_hands_it_on(failures: int, status: int) -> None:
    import httpx

    from fti.prefect_client import QuickRetryTransport

    _Flaky.failures, _Flaky.seen = failures, []
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(transport=QuickRetryTransport()) as client:
            response = client.post(
                f"http://127.0.0.1:{server.server_port}/api/flow_runs/", json={"n": 1}
            )
    finally:
        server.shutdown()
    assert response.status_code == status
    sends = min(failures, len(QuickRetryTransport.PAUSES)) + 1
    assert _Flaky.seen == [b'{"n":1}'] * sends  # the same body every time


def test_local_servers_only_get_the_quick_retries() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from fti.prefect_client import QuickRetryTransport
    from fti.prefect_env import _local_server_settings

    for url, local in (
        ("http://127.0.0.1:4200/api", True),
        ("http://localhost:4200/api", True),
        ("https://api.prefect.cloud/api/accounts/a/workspaces/w", False),
        ("http://prefect:4200/api", False),
    ):
        with temporary_settings(updates={PREFECT_API_URL: url}):
            settings = _local_server_settings()
        assert (settings is not None) == local, url
        if settings is not None:
            assert isinstance(settings["transport"], QuickRetryTransport)
