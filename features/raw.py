"""Which reader takes a raw file of a source, and which files a list of paths names."""

from __future__ import annotations

from pathlib import Path

from features.common import ParseResult


def read_raw(source: str, path: Path) -> ParseResult:
    """Dispatch a raw file to the reader of its source (prices, bookings, weather, guests,
    sessions); the readers are imported on demand."""
    if source == "prices":
        from features.prices import read_prices

        return read_prices(path)
    if source == "bookings":
        from features.bookings import read_bookings

        return read_bookings(path)
    if source == "weather":
        from features.weather import read_smhi

        return read_smhi(path)
    if source == "guests":
        from features.guests import read_guests

        return read_guests(path)
    if source == "sessions":
        from features.guests import read_sessions

        return read_sessions(path)
    raise ValueError(f"unknown source {source!r}")


def expand(paths: list[str]) -> list[Path]:
    """Files named directly, and the files inside named folders (sorted, hidden ones skipped)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")
            )
        else:
            out.append(path)
    return out
