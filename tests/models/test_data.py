"""The price horizon, lag lookups known at issue time, and the time-ordered splits."""

from __future__ import annotations

import pandas as pd
import pytest

from models.config import SplitConfig
from models.data import Boundaries, boundaries_for, issue_time_of, price_rows, split_masks

TZ = "Europe/Stockholm"


@pytest.mark.parametrize(
    "day",
    [
        "2024-01-15",  # winter: issue 11:00 UTC
        "2024-07-15",  # summer: issue 10:00 UTC
        "2024-03-31",  # delivery on the spring-forward day (23 hours)
        "2024-10-27",  # delivery on the fall-back day (25 hours)
    ],
)
def test_issue_time_is_noon_local_the_day_before(day: str) -> None:
    start = pd.Timestamp(day, tz=TZ)
    delivery = pd.Series(
        pd.date_range(start, start + pd.DateOffset(days=1), freq="h", inclusive="left")
    ).dt.tz_convert("UTC")
    assert len(delivery) == {"2024-03-31": 23, "2024-10-27": 25}.get(day, 24)
    issue = issue_time_of(delivery).dt.tz_convert(TZ)
    expected = start.tz_localize(None) - pd.Timedelta(days=1) + pd.Timedelta(hours=12)
    assert (issue.dt.tz_localize(None) == expected).all()


def test_every_lookup_is_known_at_issue_time() -> None:
    delivery = pd.Series(pd.date_range("2024-03-25", "2024-04-05", freq="h", tz="UTC"))
    rows = price_rows(pd.Series(["SE3"] * len(delivery)), delivery)
    assert (rows["_t_day"] <= rows["issue_time"]).all()
    assert (rows["_t_week"] <= rows["issue_time"]).all()
    assert (rows["issue_time"] < rows["delivery_time"]).all()
    age = (rows["delivery_time"] - rows["_t_day"]) / pd.Timedelta(hours=1)
    assert set(age) == {24.0, 48.0}
    # The latest known day is used: one day back whenever that hour is already known.
    one_day = rows["delivery_time"] - pd.Timedelta(hours=24) <= rows["issue_time"]
    assert (age[one_day] == 24).all() and (age[~one_day] == 48).all()
    assert ((rows["delivery_time"] - rows["_t_week"]) == pd.Timedelta(days=7)).all()


def _frame() -> pd.DataFrame:
    t = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC"))
    return pd.DataFrame({"split_time": t, "label_time": t + pd.Timedelta(days=3)})


def test_splits_follow_time_and_never_shuffle() -> None:
    frame = _frame()
    bounds = boundaries_for(frame, SplitConfig(validation_fraction=0.2, test_fraction=0.1))
    assert bounds == Boundaries(
        pd.Timestamp("2024-03-11", tz="UTC"), pd.Timestamp("2024-03-31", tz="UTC")
    )
    masks = split_masks(frame, bounds)
    t = frame["split_time"]
    assert t[masks["train"]].max() < t[masks["validation"]].min()
    assert t[masks["validation"]].max() < t[masks["test"]].min()
    assert masks["test"].sum() == 10


def test_a_label_known_only_in_the_test_period_is_not_learnt_from() -> None:
    frame = _frame()
    bounds = Boundaries(pd.Timestamp("2024-03-11", tz="UTC"), pd.Timestamp("2024-03-31", tz="UTC"))
    masks = split_masks(frame, bounds)
    # Labels arrive three days after the split time: the last three validation rows would only
    # be labelled inside the test period and are left out; training keeps every row.
    assert masks["train"].sum() == 70
    assert masks["validation"].sum() == 20 - 3
    assert masks["test"].sum() == 10
    assert (frame["label_time"][masks["train"] | masks["validation"]] < bounds.test_start).all()


def test_too_few_rows_to_split() -> None:
    with pytest.raises(ValueError, match="too few"):
        boundaries_for(_frame().head(5), SplitConfig())
