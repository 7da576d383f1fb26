"""The platform's flows with Prefect taken out: every @flow / @task called as its function.

The same code runs (the flows' bodies, the validation gate, the lake); only the orchestration
layer is gone. This is the "plain function calls" baseline of ORCH and the pipeline of FP.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

FLOW_MODULES = ("flows.orchestrator", "flows.ingestion", "flows.features", "flows.materialize")


@contextmanager
def without_prefect() -> Iterator[None]:
    """Replace, in every loaded flows.* / validation.* module, Prefect objects by functions."""
    from prefect.flows import Flow
    from prefect.tasks import Task

    for name in FLOW_MODULES:
        importlib.import_module(name)
    patched: list[tuple[Any, str, Any]] = []
    for name, module in list(sys.modules.items()):
        if not name.startswith(("flows.", "validation.", "models.")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, Flow | Task):
                patched.append((module, attr, value))
                setattr(module, attr, _unquoting(value.fn))
            elif attr == "get_run_logger":
                patched.append((module, attr, value))
                setattr(module, attr, _plain_logger)
    try:
        yield
    finally:
        for module, attr, value in reversed(patched):
            setattr(module, attr, value)


def _unquoting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function, given its arguments as Prefect would: `quote(x)` arrives as x."""
    from prefect.utilities.annotations import BaseAnnotation

    def unwrap(value: Any) -> Any:
        return value.unwrap() if isinstance(value, BaseAnnotation) else value

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*map(unwrap, args), **{k: unwrap(v) for k, v in kwargs.items()})

    return call


def _plain_logger() -> logging.Logger:
    return logging.getLogger("flows")
