"""Deployments: explicit time zones, importable flows, prefect.yaml in step with the code."""

from __future__ import annotations

import importlib
from zoneinfo import ZoneInfo

from flows.deployments import SCHEDULES, prefect_yaml
from fti.settings import REPO_ROOT


def test_prefect_yaml_is_generated_from_the_schedules() -> None:
    assert (REPO_ROOT / "prefect.yaml").read_text() == prefect_yaml()


def test_every_schedule_has_a_time_zone_and_an_importable_flow() -> None:
    for s in SCHEDULES:
        ZoneInfo(s.timezone)  # raises for an unknown zone
        module, _, attr = s.flow.partition(":")
        flow = getattr(importlib.import_module(module), attr)
        assert hasattr(flow, "to_deployment"), s.name
        assert len(s.cron.split()) == 5, s.name
