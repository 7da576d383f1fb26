"""Shared types of the raw-source readers: the parse result and the one-line format error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


class RawFormatError(ValueError):
    """A raw file that cannot be read; the message is one line: file, problem, where."""

    def __init__(self, path: Path | str, problem: str, where: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.where = where
        suffix = f" ({where})" if where else ""
        super().__init__(f"{self.path.name}: {problem}{suffix}")


@dataclass
class ParseResult:
    """Rows a reader kept, and every row it did not keep with the reason why."""

    frame: pd.DataFrame
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"line": [], "reason": []}))
    source: str = ""

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        if self.dropped.empty:
            return {}
        return {str(k): int(v) for k, v in self.dropped["reason"].value_counts().items()}


def to_utc(values: pd.Series) -> pd.Series:
    """Normalise a timestamp series to tz-aware UTC with nanosecond unit."""
    out = pd.to_datetime(values, utc=True)
    return out.astype("datetime64[ns, UTC]")
