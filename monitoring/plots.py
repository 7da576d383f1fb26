"""The predicted-against-actual price plot of the last weeks (PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def predicted_vs_actual(joined: pd.DataFrame, path: Path, cache_dir: Path) -> Path:
    """One panel per zone: realized and predicted hourly price over the joined period."""
    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir))  # font cache inside the state folder
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zones = sorted(joined["zone"].unique()) or ["-"]
    fig, axes = plt.subplots(len(zones), 1, figsize=(10, 2.2 * len(zones)), sharex=True)
    axes = [axes] if len(zones) == 1 else list(axes)
    for ax, zone in zip(axes, zones, strict=True):
        part = joined[joined["zone"] == zone]
        ax.plot(part["event_timestamp"], part["actual"], lw=0.9, label="actual")
        ax.plot(part["event_timestamp"], part["predicted"], lw=0.9, label="predicted")
        ax.set_ylabel(f"{zone} EUR/MWh")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", ncol=2, fontsize="small")
    versions = ", ".join(sorted(joined["model_version"].astype(str).unique()))
    axes[0].set_title(f"Day-ahead price: predicted vs actual (versions {versions or '-'})")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
