"""Guest features on Spark: the mirror of features/guests.py.

Input is the lake `guests` table (guest_id, date_of_birth, country, first_seen) and, for the
session embedding, the lake `sessions` table, as Spark DataFrames; the session time zone must
be UTC. Bands, band starts, the country vocabulary and the session reducer are the pandas
module's.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pandas as pd

from features.guests import (
    _BAND_STARTS,
    AGE_BANDS,
    COUNTRY_VOCAB_V1,
    COUNTRY_VOCAB_VERSION,
    SessionReducer,
)
from features.guests import session_embedding_features as pandas_session_embedding

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _birthday(dob: Column, years: int) -> Column:
    """The day someone born on `dob` turns `years`; 29 February falls on 1 March otherwise."""
    from pyspark.sql import functions as F

    year = F.year(dob) + years
    month = F.month(dob)
    day = F.dayofmonth(dob)
    leap = ((year % 4) == 0) & (((year % 100) != 0) | ((year % 400) == 0))
    shift = (month == 2) & (day == 29) & ~leap
    return F.make_date(
        year, F.when(shift, F.lit(3)).otherwise(month), F.when(shift, F.lit(1)).otherwise(day)
    )


def default_until(guests: DataFrame) -> pd.Timestamp:
    """The latest first_seen + 10 years (pandas DateOffset semantics), as in the pandas path."""
    from pyspark.sql import functions as F

    row = guests.where(F.col("date_of_birth").isNotNull()).agg(F.max("first_seen")).first()
    latest = pd.Timestamp(row[0] if row is not None else None)
    latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest.tz_convert("UTC")
    return latest + pd.DateOffset(years=10)


def age_band_features(guests: DataFrame, until: pd.Timestamp | None = None) -> DataFrame:
    """The `guest_age_band` table (features.guests.age_band_features on Spark).

    One row per band a guest enters (at birth and each boundary birthday, 00:00 UTC), up to
    `until` (default: the latest first_seen + 10 years). Rows are not in a defined order.
    """
    from pyspark.sql import functions as F

    if until is None:
        until = default_until(guests)
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
    dob = F.to_date(F.col("date_of_birth"))
    bands = F.array(
        *[
            F.struct(F.lit(name).alias("age_band"), _birthday(dob, start).alias("start"))
            for name, start in zip(AGE_BANDS, _BAND_STARTS, strict=True)
        ]
    )
    start = F.col("b.start").cast("timestamp")  # 00:00 UTC (session time zone UTC)
    return (
        guests.where(F.col("date_of_birth").isNotNull())
        .select(F.col("guest_id").cast("string").alias("guest_id"), F.explode(bands).alias("b"))
        .where(start <= F.lit(until.to_pydatetime()))
        .select("guest_id", start.alias("event_timestamp"), F.col("b.age_band").alias("age_band"))
    )


def vocab_version(vocab: tuple[str, ...], version: str | None = None) -> str:
    """The country_vocab_version value of the pandas path for this vocabulary."""
    if version is not None:
        return version
    if vocab == COUNTRY_VOCAB_V1:
        return COUNTRY_VOCAB_VERSION
    return "custom-" + hashlib.blake2b("|".join(vocab).encode(), digest_size=4).hexdigest()


def country_features(
    guests: DataFrame, vocab: tuple[str, ...] = COUNTRY_VOCAB_V1, version: str | None = None
) -> DataFrame:
    """The `guest_home_country` table (features.guests.country_features on Spark).

    One-hot over the fixed vocabulary; country_other for a missing or unlisted code.
    """
    from pyspark.sql import functions as F

    if len(set(vocab)) != len(vocab):
        raise ValueError("country vocabulary has duplicates")
    country = F.col("country").cast("string")
    known = country.isNotNull() & country.isin(list(vocab))
    return guests.select(
        F.col("guest_id").cast("string").alias("guest_id"),
        F.col("first_seen").alias("event_timestamp"),
        *[
            F.coalesce((country == code).cast("long"), F.lit(0)).alias(f"country_{code}")
            for code in vocab
        ],
        F.when(known, F.lit(0)).otherwise(F.lit(1)).cast("long").alias("country_other"),
        F.lit(vocab_version(vocab, version)).alias("country_vocab_version"),
    )


def session_embedding_schema(reducer: SessionReducer) -> str:
    """The Spark schema (DDL) of the `guest_session_embedding` table of this reducer."""
    dims = ", ".join(f"session_emb_{i} double" for i in range(reducer.dim))
    return (
        f"guest_id string, event_timestamp timestamp, {dims}, "
        "sessions_seen long, session_reducer_version string"
    )


def session_embedding_features(
    sessions: DataFrame, reducer: SessionReducer | None = None, buckets: int | None = None
) -> DataFrame:
    """The `guest_session_embedding` table (features.guests.session_embedding_features on Spark).

    Runs the pandas function itself on whole guests (applyInPandas on a hash bucket of
    guest_id, `buckets` groups, default the shuffle partitions): a guest's rows depend only on
    its own sessions, so the definition is shared exactly rather than re-spelled. The one
    difference is rounding: the projection is a BLAS matrix product whose last bit depends on
    how many rows are multiplied at once, so embeddings agree with one pandas call over every
    session to about 1e-15 relative, not bit for bit (every other column is exact).
    """
    from pyspark.sql import functions as F

    reducer = reducer or SessionReducer()
    spark = sessions.sparkSession
    buckets = buckets or int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    columns = ["guest_id", "ended_at", "pages"]

    def embed(frame: pd.DataFrame) -> pd.DataFrame:
        # Arrow hands timestamps over as naive UTC wall times (session time zone UTC).
        out = pandas_session_embedding(frame[columns], reducer)
        return out.astype({"guest_id": object, "session_reducer_version": object})

    return (
        sessions.select(
            F.col("guest_id").cast("string").alias("guest_id"),
            F.col("ended_at"),
            F.col("pages").cast("string").alias("pages"),
        )
        .groupBy(F.pmod(F.hash("guest_id"), F.lit(buckets)).alias("_bucket"))
        .applyInPandas(embed, schema=session_embedding_schema(reducer))
    )
