"""The transport of the Prefect API client for a server on this machine (fti.prefect_env).

Its own module: httpx is imported only by the processes that run flows, not by every `fti`
command at start-up.
"""

from __future__ import annotations

import time

import httpx


class QuickRetryTransport(httpx.HTTPTransport):
    """An API answer 503 retried after short pauses before Prefect's client sees it.

    A Prefect server on SQLite (the ephemeral server of the embedded profile) answers 503 when
    creating a flow run meets the write lock its own task-run and event recorders hold while
    they store the previous run's events (SQLITE_BUSY; Prefect issue #18934), and Prefect's
    client backs off 2 s at the first retry. Measured here on back-to-back flow runs of 20 tasks:
    9 of 12 waited so (2.1 s a run); re-sent after pauses of 5-50 ms (at most 1 s in all),
    none did (0.2-0.6 s a run). A 503 that outlasts the pauses goes on to Prefect's own
    retries. Requests are re-sent as Prefect's retry re-sends them (the same request object,
    its body in memory).
    """

    PAUSES = (0.005,) * 10 + (0.02,) * 10 + (0.05,) * 16  # 1.05 s in all

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = super().handle_request(request)
        for pause in self.PAUSES:
            if response.status_code != 503:
                break
            response.close()
            time.sleep(pause)
            response = super().handle_request(request)
        return response
