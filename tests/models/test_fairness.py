"""Per-group metrics and gaps on a hand-checked example; the feature policy on the repo's own
feature services."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.config import FairnessConfig, FeaturePolicy
from models.fairness import evaluate_groups, gap_check, group_table, largest_gap, region_of

# Two groups of four bookings and one of a single booking, threshold 0.5.
#   a: y 1 1 0 0, p .9 .4 .6 .1 -> flagged T F T F: FPR 1/2 (the .6), FNR 1/2 (the .4),
#      AUC: pairs (.9,.6) (.9,.1) (.4,.6) (.4,.1) -> 3 of 4 ordered right = 0.75
#   b: y 1 0 0 0, p .8 .7 .2 .3 -> flagged T T F F: FPR 1/3 (the .7), FNR 0, AUC 1.0
#   c: y 0,       p .9          -> FPR 1, FNR undefined, AUC undefined (one class)
Y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0])
P = np.array([0.9, 0.4, 0.6, 0.1, 0.8, 0.7, 0.2, 0.3, 0.9])
G = np.array(["a"] * 4 + ["b"] * 4 + ["c"])


def test_group_table_by_hand() -> None:
    table = group_table(Y, P, G, threshold=0.5).set_index("group")
    assert table.loc["a", "roc_auc"] == pytest.approx(0.75)
    assert table.loc["a", "fpr"] == pytest.approx(0.5)
    assert table.loc["a", "fnr"] == pytest.approx(0.5)
    assert table.loc["b", "roc_auc"] == pytest.approx(1.0)
    assert table.loc["b", "fpr"] == pytest.approx(1 / 3)
    assert table.loc["b", "fnr"] == 0.0
    assert table.loc["c", "fpr"] == 1.0
    assert math.isnan(table.loc["c", "fnr"]) and math.isnan(table.loc["c", "roc_auc"])
    assert list(table["n"]) == [4, 4, 1] and list(table["positives"]) == [2, 1, 0]
    # A probability exactly at the threshold is flagged.
    at = group_table(np.array([0, 1]), np.array([0.5, 0.5]), np.array(["x", "x"]), 0.5)
    assert at.loc[0, "fpr"] == 1.0 and at.loc[0, "fnr"] == 0.0


def test_largest_gaps_skip_small_groups() -> None:
    table = group_table(Y, P, G, threshold=0.5)
    auc = largest_gap(table, "roc_auc", min_group_size=2)
    assert (auc.value, auc.high, auc.low) == (pytest.approx(0.25), "b", "a")
    fpr = largest_gap(table, "fpr", min_group_size=2)  # c (FPR 1.0) has one row: left out
    assert (fpr.value, fpr.high, fpr.low) == (pytest.approx(0.5 - 1 / 3), "a", "b")
    assert largest_gap(table, "fpr", min_group_size=1).value == pytest.approx(1 - 1 / 3)
    fnr = largest_gap(table, "fnr", min_group_size=2)
    assert (fnr.value, fnr.high, fnr.low) == (pytest.approx(0.5), "a", "b")
    assert math.isnan(largest_gap(table, "roc_auc", min_group_size=5).value)


def test_report_takes_the_largest_gap_over_attributes_and_the_gate_check_limits_it() -> None:
    audit = pd.DataFrame({"audit_age_band": G, "audit_region": ["europe"] * 9})
    config = FairnessConfig(min_group_size=2, max_gap_roc_auc=0.3, max_gap_fpr=None)
    report = evaluate_groups(audit, Y, P, config)
    assert report is not None
    assert report.largest["fnr"].value == pytest.approx(0.5)
    assert math.isnan(report.gaps["region"]["fnr"].value)  # a single region: no gap
    metrics = report.metrics("test")
    assert metrics["test_group_gap_roc_auc"] == pytest.approx(0.25)
    assert metrics["test_group_age_band_a_fpr"] == pytest.approx(0.5)
    assert metrics["test_group_age_band_c_n"] == 1.0
    # FNR gap 0.5 > 0.25 (default limit): refused, naming the metric and the groups.
    check = gap_check(report, config)
    assert not check.passed and "fnr gap 0.500 (a vs b)" in check.detail
    assert "roc_auc" not in check.detail  # 0.25 is within 0.3
    assert gap_check(report, config.model_copy(update={"max_gap_fnr": 0.6})).passed


def test_regions_from_the_country_columns() -> None:
    one_hot = pd.DataFrame(
        {
            "country_PRT": [1, 0, 0, 0, 0],
            "country_DEU": [0, 1, 0, 0, 0],
            "country_BRA": [0, 0, 1, 0, 0],
            "country_other": [0, 0, 0, 1, 0],
        }
    )
    assert list(region_of(one_hot)) == [
        "portugal",
        "europe",
        "rest_of_world",
        "other_or_unknown",
        "other_or_unknown",  # no column set (no country row yet)
    ]


def test_feature_policy_blocks_the_protected_attributes_of_the_repo_services() -> None:
    from fti.store import load_definitions
    from models.config import DEFAULT_POLICY
    from models.lineage import service_metadata
    from models.policy import FeaturePolicyViolation, check, violations

    services = {s.name: s for s in load_definitions().feature_services}
    v1 = service_metadata(services["cancellation_classifier_v1"])
    policy = FeaturePolicy(allowed=DEFAULT_POLICY["cancellation"])
    with pytest.raises(FeaturePolicyViolation) as err:
        check("cancellation", "cancellation_classifier_v1", v1, policy)
    message = str(err.value)
    assert "cancellation_classifier_v1" in message and "protected" in message
    assert "guest_age_band:age_band" in message and "guest_home_country:country_PRT" in message
    assert "session_emb_0" not in message  # personal data is allowed
    # The default services keep to the default policies.
    check("cancellation", "v2", service_metadata(services["cancellation_classifier_v2"]), policy)
    price = service_metadata(services["price_forecaster_v1"])
    check("price", "price_forecaster_v1", price, FeaturePolicy(allowed=DEFAULT_POLICY["price"]))
    # The price model may not read personal data; an untagged feature is unclassified.
    rows = [
        {"view": "v", "feature": "emb", "sensitivity": "personal"},
        {"view": "v", "feature": "x", "sensitivity": ""},
    ]
    assert violations(rows, FeaturePolicy(allowed=("none",))) == {
        "personal": ["v:emb"],
        "unclassified": ["v:x"],
    }
