"""`fti train --params`: hyperparameter and gate overrides from a file, checked before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer


def test_params_file_overrides_and_typos_fail_early(tmp_path: Path) -> None:
    from fti.commands.models import _read_params
    from models.config import TrainingConfig

    good = tmp_path / "params.yaml"
    good.write_text("gate:\n  min_improvement_over_champion: 0.02\nhgb:\n  max_iter: 50\n")
    params = _read_params(good)
    config = TrainingConfig.model_validate({**params, "kind": "price"})
    assert config.gate.min_improvement_over_champion == 0.02 and config.hgb.max_iter == 50
    assert config.flat()["gate.min_improvement_over_champion"] == "0.02"

    typo = tmp_path / "typo.json"
    typo.write_text('{"hgb": {"max_iters": 50}}')
    with pytest.raises(typer.Exit):
        _read_params(typo)
