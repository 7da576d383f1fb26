"""The Feast definitions agree with the tables the feature pipeline writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fti.settings import Settings
from fti.tables import FEATURES, PREDICTION_VIEWS


@pytest.fixture(scope="module")
def definitions():  # type: ignore[no-untyped-def]
    from fti.store import load_definitions

    return load_definitions()


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """Every feature table computed from tiny synthetic raw files, without Prefect."""
    from features.synthetic import SyntheticSpec, generate_raw
    from flows.features import ALL_TIME, GROUPS, compute_group
    from flows.ingestion import expand, parse
    from fti import lake
    from fti.tables import LAKE

    root = tmp_path_factory.mktemp("repo")
    settings = Settings(state_dir=root / "state")
    raw = generate_raw(root / "raw", SyntheticSpec.sized("tiny"))
    for source, folder in (("prices", "entsoe_day_ahead"), ("weather", "smhi_weather")):
        frame = pd.concat([parse(source, p).frame for p in expand([str(root / "raw" / folder)])])
        t = LAKE[source]
        lake.upsert(frame, t.root(settings), t.key, t.partition)
    from features.bookings import read_bookings
    from features.guests import generate_companions

    bookings = read_bookings(raw["hotel_bookings"][0]).frame
    guests, sessions, guest_of = generate_companions(bookings)
    bookings["guest_id"] = bookings["booking_id"].map(guest_of)
    for name, frame in (("bookings", bookings), ("guests", guests), ("sessions", sessions)):
        t = LAKE[name]
        lake.upsert(frame, t.root(settings), t.key, t.partition)
    out: dict[str, pd.DataFrame] = {}
    for group in GROUPS:
        out.update(compute_group(group, settings, *ALL_TIME))
    return out


def test_every_feature_view_has_its_table(definitions, tables: dict[str, pd.DataFrame]) -> None:  # type: ignore[no-untyped-def]
    views = {fv.name: fv for fv in definitions.feature_views}
    # Prediction views are written by batch inference, not computed from raw data.
    assert set(views) == set(FEATURES) == set(tables) | set(PREDICTION_VIEWS)
    for name, fv in views.items():
        if name in PREDICTION_VIEWS:
            continue
        assert fv.batch_source.path == name
        frame = tables[name]
        assert len(frame) > 0, name
        for key in fv.join_keys:
            assert key in frame.columns, f"{name}: join key {key} not in table"
        for field in fv.schema:
            assert field.name in frame.columns, f"{name}.{field.name} not in table"
            kind = str(field.dtype)
            dtype = frame[field.name].dtype
            if "Int64" in kind:
                assert pd.api.types.is_integer_dtype(dtype), f"{name}.{field.name}: {dtype}"
            elif "Float64" in kind:
                assert pd.api.types.is_float_dtype(dtype), f"{name}.{field.name}: {dtype}"
            else:
                assert pd.api.types.is_string_dtype(dtype), f"{name}.{field.name}: {dtype}"


def test_every_field_is_documented_and_classified(definitions) -> None:  # type: ignore[no-untyped-def]
    for fv in definitions.feature_views:
        assert fv.description and fv.owner, fv.name
        for field in fv.schema:
            assert field.description, f"{fv.name}.{field.name}"
            assert field.tags.get("sensitivity") in {"none", "personal", "protected"}


def test_outcomes_and_raw_personal_data_are_never_features(definitions) -> None:  # type: ignore[no-untyped-def]
    forbidden = {
        "is_canceled",
        "reservation_status",
        "reservation_status_date",
        "date_of_birth",
        "pages",
        "booking_changes",
        "assigned_room_type",
        "days_in_waiting_list",
    }
    for fv in definitions.feature_views:
        assert not forbidden & {f.name for f in fv.schema}, fv.name


def test_embedding_dimension_matches_the_reducer(definitions) -> None:  # type: ignore[no-untyped-def]
    import feature_views  # the definitions fixture put feature_repo/ on the path, as Feast does

    from features.guests import SessionReducer

    assert SessionReducer().dim == feature_views.EMBEDDING_DIM


def test_feature_services_name_existing_views(definitions) -> None:  # type: ignore[no-untyped-def]
    views = {fv.name for fv in definitions.feature_views}
    services = {s.name: s for s in definitions.feature_services}
    assert set(services) == {
        "price_forecaster_v1",
        "cancellation_classifier_v1",
        "cancellation_classifier_v2",
    }
    for service in services.values():
        assert {p.name for p in service.feature_view_projections} <= views


def test_repo_applies_in_process(tmp_path: Path) -> None:
    from fti.store import apply_definitions, open_store

    store = open_store(Settings(state_dir=tmp_path))
    names = apply_definitions(store)
    assert sorted(names) == sorted(FEATURES)
    assert {fv.name for fv in store.list_feature_views()} == set(FEATURES)
