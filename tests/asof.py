"""Reference point-in-time join for tests: pandas merge_asof, independent of the offline store."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def asof_join(
    entity_df: pd.DataFrame,
    features: pd.DataFrame,
    keys: Sequence[str],
    columns: Sequence[str],
    ttl: pd.Timedelta | None = None,
    entity_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """For each entity row, the feature row with the same keys and the latest time <= its time."""
    entity_keys = list(entity_keys or keys)
    left = entity_df.reset_index(drop=True).assign(_row=lambda d: range(len(d)))
    left = left.assign(
        _ts=pd.to_datetime(left["event_timestamp"], utc=True).astype("datetime64[ns, UTC]")
    )
    right = features[[*keys, "event_timestamp", *columns]].rename(
        columns={**dict(zip(keys, entity_keys, strict=True)), "event_timestamp": "_fts"}
    )
    right = right.assign(_fts=right["_fts"].astype("datetime64[ns, UTC]"))
    merged = pd.merge_asof(
        left.sort_values("_ts"),
        right.sort_values("_fts"),
        left_on="_ts",
        right_on="_fts",
        by=entity_keys,
        direction="backward",
        allow_exact_matches=True,
    )
    if ttl is not None and ttl > pd.Timedelta(0):
        stale = merged["_fts"] < merged["_ts"] - ttl
        merged.loc[stale, list(columns)] = None
    return merged.sort_values("_row").drop(columns=["_row", "_ts", "_fts"]).reset_index(drop=True)
