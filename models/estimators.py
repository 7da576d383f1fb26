"""Estimator pieces of the logged models beyond scikit-learn's own.

skops stores these by their import path (`models.estimators.RelativeToLevel`) and loads them only
when told to trust that name (models.pipelines.SKOPS_TRUSTED_TYPES), so loading a model needs
this package importable: batch inference and the API run from this repository.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone


class RelativeToLevel(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Regress prices relative to a price level known at prediction time.

    Trees cannot predict outside the range of the targets they were trained on, and electricity
    prices move between regimes (2021-2022 multiplied them by five). Dividing the target and
    every price-valued input by a level (the trailing weekly mean, floored so that near-zero
    weeks do not explode) makes the trees learn shapes and ratios; predictions are multiplied
    back, so the model's output stays in EUR/MWh. It is the last step of the Pipeline, after
    the encoder, which hands it named columns (`set_output(transform="pandas")`).
    """

    def __init__(
        self,
        estimator: Any = None,
        level: str = "price_mean_168h",
        relative: tuple[str, ...] = (),
        floor: float = 10.0,
    ) -> None:
        self.estimator = estimator
        self.level = level
        self.relative = relative
        self.floor = floor

    def _scale(self, x: pd.DataFrame) -> np.ndarray:
        level = np.abs(x[self.level].to_numpy(dtype=float))
        return np.maximum(np.nan_to_num(level, nan=self.floor), self.floor)

    def _relative(self, x: pd.DataFrame, scale: np.ndarray) -> pd.DataFrame:
        out = x.copy()
        for column in self.relative:
            out[column] = x[column].to_numpy(dtype=float) / scale
        return out

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
    ) -> RelativeToLevel:
        scale = self._scale(X)
        self.estimator_ = clone(self.estimator)
        target = np.asarray(y, dtype=float) / scale
        if X_val is None or y_val is None:
            self.estimator_.fit(self._relative(X, scale), target)
        else:
            val_scale = self._scale(X_val)
            self.estimator_.fit(
                self._relative(X, scale),
                target,
                X_val=self._relative(X_val, val_scale),
                y_val=np.asarray(y_val, dtype=float) / val_scale,
            )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        scale = self._scale(X)
        return np.asarray(self.estimator_.predict(self._relative(X, scale))) * scale

    @property
    def n_iter_(self) -> int:
        return int(self.estimator_.n_iter_)

    @property
    def n_trees_per_iteration_(self) -> int:
        return int(self.estimator_.n_trees_per_iteration_)
