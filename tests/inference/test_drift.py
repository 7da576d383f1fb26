"""Drift statistics: PSI and KS as pure functions, and the per-feature drift table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import drift_table, ks, markdown, psi


def test_same_distribution_has_no_drift() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5000), rng.normal(size=5000)
    assert psi(a, b) < 0.05
    assert ks(a, b) < 0.05


@pytest.mark.parametrize("shift", [1.0, 3.0])  # one and three standard deviations
def test_shift_is_drift(shift: float) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5000), rng.normal(loc=shift, size=5000)
    assert psi(a, b) > 0.25
    assert ks(a, b) > 0.3


def test_ks_matches_scipy() -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.2, size=200)
    assert ks(a, b) == pytest.approx(ks_2samp(a, b).statistic)


def test_table_counts_out_of_range_and_unseen() -> None:
    ref = pd.DataFrame({"price_scaled": [0.1, 0.5, 0.9] * 10, "hotel": ["A", "B", "A"] * 10})
    cur = pd.DataFrame({"price_scaled": [0.2, 1.5, -0.1], "hotel": ["A", "C", "D"]})
    rows = {r.feature: r for r in drift_table(ref, cur)}
    assert rows["price_scaled"].out_of_range == 2 and rows["price_scaled"].drifted
    assert rows["hotel"].unseen == 2 and rows["hotel"].drifted
    assert "price_scaled" in markdown(list(rows.values()))
