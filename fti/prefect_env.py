"""Prefect settings of flow runs called in-process (CLI, `python -m flows.*`, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit


@contextmanager
def in_process_runs() -> Iterator[None]:
    """Flow runs started inside this block emit no heartbeats and share one API client.

    Prefect 3.9 starts a heartbeat thread for every flow and subflow run (default every 180 s)
    and joins it when the run ends; the thread sleeps in one-second steps, so the join waits up
    to 1 s per flow run (measured: an empty flow run takes 1.4 s with it, 0.35 s without).
    Heartbeats only serve an automation that marks a deployment's run Crashed when its process
    dies silently (Prefect docs, "detect zombie flows"); a run called in-process reports its own
    crash. Deployment runs (`fti serve`) execute in processes of their own with Prefect's
    default and keep their heartbeats. The shared client saves a client (and a CSRF token
    request) per top-level flow run, and talks to a server on this machine through
    `fti.prefect_client.QuickRetryTransport`.
    """
    from prefect.context import SyncClientContext
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        if SyncClientContext.get() is not None:
            yield
            return
        with SyncClientContext(httpx_settings=_local_server_settings()):
            yield


def _local_server_settings() -> dict[str, Any] | None:
    """The client's transport for a Prefect API on this machine (the ephemeral server, the
    tests' harness, a local `prefect server start`); None (Prefect's own) for any other."""
    from prefect.settings import PREFECT_API_ENABLE_HTTP2, PREFECT_API_URL

    from fti.prefect_client import QuickRetryTransport

    url = PREFECT_API_URL.value()
    if url and not (
        urlsplit(url).scheme == "http" and urlsplit(url).hostname in ("127.0.0.1", "localhost")
    ):
        return None
    return {"transport": QuickRetryTransport(retries=3, http2=PREFECT_API_ENABLE_HTTP2.value())}


T = TypeVar("T")


def as_is(value: T) -> T:
    """A task argument Prefect passes through untouched (its `quote`), typed as the value.

    Prefect walks every task argument (collections, dataclasses) to find futures; for a gate
    run holding whole frames, or a frame, that walk costs more than the task itself.
    """
    from prefect.utilities.annotations import quote

    return cast(T, quote(value))
