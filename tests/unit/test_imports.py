"""The core libraries import in every kind of Python process, with pyspark installed beside them."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        # Imports pyspark.sql.connect: without the connect extra's packages, pyspark exits a
        # process whose __main__ has no file (python -c, pytest-xdist workers) with status 0.
        "great_expectations",
        "pyspark.sql.connect.dataframe",
    ],
)
def test_imports_from_python_c(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}; print('imported')"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("imported"), done.stderr[-2000:]
