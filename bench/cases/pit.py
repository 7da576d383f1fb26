"""PIT: training retrieval through the feature services vs a plain DuckDB ASOF LEFT JOIN.

Ours: `FeatureStore.get_historical_features(entity_df, features=<service>).to_df()` on the
platform's feature repo and offline store. Baseline: one hand-written DuckDB query with an
ASOF LEFT JOIN per feature view (TTL as a CASE) over the same parquet files, `.df()`.
Both answers are compared value by value (the row "identical" flag). At 1M entity rows ours
runs alone in a child process, whose peak resident memory is the "under 2 GiB" figure.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import data
from bench.common import REPO, PeakRss, Row, best_of

log = logging.getLogger(__name__)

MEMORY_TARGET_MIB = 2048


def _baseline_sql(store: Any, service: Any, offline_root: Path) -> tuple[str, list[str]]:
    """The plain query: entity table `e` ASOF LEFT JOIN each view's parquet."""
    selects, joins, names = ["e.__row"], [], []
    for i, projection in enumerate(service.feature_view_projections):
        view = store.get_feature_view(projection.name)
        keys = [c.name for c in view.entity_columns]
        entity_cols = [projection.join_key_map.get(k, k) for k in keys]
        features = [f.name for f in projection.features]
        pattern = (offline_root / view.name / "**" / "*.parquet").as_posix()
        cols = ", ".join(
            [f'"{k}" AS k{i}_{j}' for j, k in enumerate(keys)]
            + [f"event_timestamp AS t{i}"]
            + [f'"{f}"' for f in features]
        )
        on = [f'e."{c}" = v{i}.k{i}_{j}' for j, c in enumerate(entity_cols)]
        on.append(f"e.event_timestamp >= v{i}.t{i}")
        joins.append(
            f"ASOF LEFT JOIN (SELECT {cols} FROM read_parquet('{pattern}', "
            f"hive_partitioning = false)) v{i} ON {' AND '.join(on)}"
        )
        ttl = int(view.ttl.total_seconds()) if view.ttl else 0
        for f in features:
            value = f'v{i}."{f}"'
            if ttl:
                value = (
                    f"CASE WHEN v{i}.t{i} >= e.event_timestamp - INTERVAL {ttl} SECOND "
                    f"THEN {value} END"
                )
            selects.append(f'{value} AS "{f}"')
            names.append(f)
    return f"SELECT {', '.join(selects)} FROM entity e {' '.join(joins)}", names


def _digest(series: pd.Series) -> str:
    """A fingerprint of a column's values, the same for equal values whatever the dtype."""
    h = hashlib.blake2b(digest_size=16)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        h.update(np.where(missing, 0.0, values).tobytes())
    else:
        missing = series.isna().to_numpy()
        text = series.astype(object).where(~missing, "").astype(str).to_numpy(dtype=object)
        h.update(pd.util.hash_array(text, categorize=False).tobytes())
    h.update(np.packbits(missing).tobytes())
    return h.hexdigest()


def _digests(frame: pd.DataFrame, names: list[str]) -> dict[str, str]:
    return {name: _digest(frame[name]) for name in names}


def child_retrieval(state_dir: str, service_name: str, entity_path: str, out: str) -> None:
    """Ours at 1M rows, alone in a process: its peak resident memory is the retrieval's.

    The process holds what a training job holds: the libraries, the entity frame, the answer.
    """
    from fti.settings import Settings
    from fti.store import open_store

    settings = Settings(state_dir=Path(state_dir))
    settings.apply_process_env()
    store = open_store(settings)
    service = store.get_feature_service(service_name)
    names = [f.name for p in service.feature_view_projections for f in p.features]
    entity_df = pd.read_parquet(entity_path)
    gc.collect()

    def ours() -> pd.DataFrame:
        return store.get_historical_features(entity_df=entity_df, features=service).to_df()

    with PeakRss() as peak:
        seconds, got = best_of(ours, 1)
    result = {
        "seconds": seconds,
        "peak_rss_mib": peak.mib,
        "rows": len(got),
        "digests": _digests(got, names),
    }
    Path(out).write_text(json.dumps(result))


def _ours_in_child(
    workdir: Path, state_dir: Path, service_name: str, entity_df: pd.DataFrame
) -> dict[str, Any]:
    entity_path = workdir / f"entities-{service_name}.parquet"
    out = workdir / f"ours-{service_name}.json"
    entity_df.to_parquet(entity_path, index=False)
    code = "import sys; from bench.cases.pit import child_retrieval; child_retrieval(*sys.argv[1:])"
    args = [str(state_dir), service_name, str(entity_path), str(out)]
    subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    entity_path.unlink()
    return result


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    import duckdb

    from fti.settings import Settings
    from fti.store import apply_definitions, open_store

    settings = Settings(state_dir=workdir / "state")
    settings.apply_process_env()
    offline = settings.offline_dir
    zones = 10
    first_year = 2024 if quick else 2016
    copies = 1 if quick else 9
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]

    prices = data.scaled_prices(data.real_prices(first_year), zones)
    from features.prices import price_features

    zone_prices = price_features(prices)
    data.write_feature_table(offline, "zone_prices", zone_prices)
    for name, frame in data.weather_tables().items():
        data.write_feature_table(offline, name, frame)
    bookings = data.scaled_bookings(data.real_bookings(), copies)
    for name, frame in bookings.tables.items():
        data.write_feature_table(offline, name, frame)
    years = zone_prices["event_timestamp"].dt.year
    notes = [
        f"zone_prices: {zones} zones x {years.min()}-{years.max()} "
        f"({len(zone_prices):,} hourly rows, real SE1-SE4 + offset copies)",
        f"booking_details: {len(bookings.tables['booking_details']):,} rows "
        f"({copies} copies of the 119,390 real bookings), guest_age_band "
        f"{len(bookings.tables['guest_age_band']):,} rows",
    ]
    # Only the parquet files are read from here on: free the frames (several GiB at 9 copies).
    bookings.tables.clear()
    zone_prices = zone_prices[["zone", "event_timestamp"]]
    del prices
    gc.collect()

    store = open_store(settings)
    apply_definitions(store)
    # The same DuckDB limits as the offline store's (feature_store.yaml defaults).
    con = duckdb.connect(
        config={"memory_limit": "2GB", "threads": 2, "preserve_insertion_order": False}
    )
    con.execute("SET TimeZone = 'UTC'")

    rows = []
    for service_name in ("price_forecaster_v1", "cancellation_classifier_v1"):
        service = store.get_feature_service(service_name)
        sql, names = _baseline_sql(store, service, offline)
        for n in sizes:
            if service_name == "price_forecaster_v1":
                entity_df = data.price_entities(zone_prices, n, seed=n)
            else:
                entity_df = data.booking_entities(bookings.entities, n, seed=n)
            # The booking sources are large (ASOF sorts them whole): one run per size there.
            repeat = 1 if n >= 1_000_000 or service_name != "price_forecaster_v1" else 2

            def ours(entity_df: pd.DataFrame = entity_df, service: Any = service) -> pd.DataFrame:
                return store.get_historical_features(entity_df=entity_df, features=service).to_df()

            if n >= 1_000_000:
                child = _ours_in_child(workdir, settings.state_dir, service_name, entity_df)
                ours_s, peak_mib = child["seconds"], child["peak_rss_mib"]
                got_rows, got_digests = child["rows"], child["digests"]
            else:
                with PeakRss() as peak:
                    ours_s, got = best_of(ours, repeat)
                peak_mib = peak.mib
                # Fingerprints, not frames, are kept: two big answers at once double memory.
                got_rows, got_digests = len(got), _digests(got, names)
                del got
            entity = entity_df.assign(__row=np.arange(n))
            con.register("entity", entity)

            def base(sql: str = sql) -> pd.DataFrame:
                return con.sql(sql).df()

            base_s, expected = best_of(base, repeat)
            con.unregister("entity")
            expected = expected.sort_values("__row").reset_index(drop=True)
            identical = got_rows == n and got_digests == _digests(expected, names)
            if not identical:
                log.warning("%s %d: answers differ", service_name, n)
            limit = max(3 * base_s, base_s + 0.5)
            label = "1M" if n >= 1_000_000 else f"{n // 1000}k"
            memory_ok = peak_mib < MEMORY_TARGET_MIB if n >= 1_000_000 else True
            rows.append(
                Row(
                    case="PIT",
                    what=f"{service_name}, {label} entity rows",
                    figure=ours_s,
                    unit="s",
                    baseline=base_s,
                    ratio=ours_s / base_s,
                    ratio_means="x ASOF time",
                    target="<= 3x or +0.5 s" + (", < 2 GiB" if n >= 1_000_000 else ""),
                    met=ours_s <= limit and memory_ok and identical,
                    details={
                        "identical": identical,
                        "rows": n,
                        "peak_rss_mib": round(peak_mib),
                        **({"memory_ok": memory_ok} if n >= 1_000_000 else {}),
                        "views": len(service.feature_view_projections),
                    },
                )
            )
            log.warning("%s %s: %.2f s vs %.2f s", service_name, n, ours_s, base_s)
            del expected, entity, entity_df
    return {"rows": rows, "notes": notes}
