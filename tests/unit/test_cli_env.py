"""`fti env`: the environment for using Feast's CLI directly on the project's state."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fti.cli import app


@pytest.mark.parametrize(
    "engine,sources",
    [
        ("pandas", None),  # the default: FileSources, nothing to export
        ("spark", "spark"),  # Feast's Spark store reads SparkSources
    ],
)
def test_env_exports_the_source_kind_of_the_engine(
    engine: str, sources: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTI_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FTI_FEATURE_ENGINE", engine)
    monkeypatch.delenv("FTI_FEAST_SOURCES", raising=False)
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0, result.output
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.output.splitlines()
    )
    assert exports["FTI_STATE_DIR"] == str(tmp_path)
    assert exports.get("FTI_FEAST_SOURCES") == sources
