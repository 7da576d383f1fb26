"""fti.prefect_env.in_process_runs: flow runs keep their task runs, logs and Failed states."""

from __future__ import annotations

import time
from typing import Any

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
    default = get_current_settings().flows.heartbeat_frequency
    with in_process_runs():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == default


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
