"""Fitting on young data: yearly calendar inputs unused below a year, the price variant chosen
on the validation split."""

from __future__ import annotations

from models.config import TrainingConfig
from models.training import fit_model
from tests.models.conftest import price_data


def test_a_short_training_split_drops_the_yearly_calendar_and_picks_the_variant_on_validation() -> (
    None
):
    data = price_data(days=40)
    trained = fit_model(data, TrainingConfig(kind="price"))
    # 28 days of training: day_of_year and month could only encode the date itself.
    assert {"day_of_year", "month"} <= set(trained.unused_inputs)
    prepare = trained.pipeline.named_steps["prepare"]
    used = {c for _, step, columns in prepare.transformers_ if step != "drop" for c in columns}
    assert not {"day_of_year", "month"} & used and "hour" in used
    # Both still belong to the model's input (the signature inference passes).
    assert {"day_of_year", "month"} <= set(trained.inputs["train"].columns)
    # "auto": both price variants fitted, the one with the lower validation MAE kept.
    chosen = trained.selection["price_relative"]
    scores = {
        r: float(trained.selection[f"validation_mae.relative_{r}"]) for r in ("True", "False")
    }
    assert chosen == min(scores, key=lambda r: scores[r])
    assert abs(trained.metrics["validation"]["mae"] - min(scores.values())) < 1e-4 * min(
        scores.values()
    )
    is_relative = type(trained.pipeline.named_steps["model"]).__name__ == "RelativeToLevel"
    assert is_relative == (chosen == "True")

    fixed = fit_model(data, TrainingConfig(kind="price", price_relative=False))
    assert fixed.selection == {}
    assert type(fixed.pipeline.named_steps["model"]).__name__ != "RelativeToLevel"
