"""Turn a table's feature columns into one float matrix, with every statistic fitted on training rows.

Numeric columns are standardised (train mean and standard deviation; a constant column becomes 0),
categorical ones one-hot encoded over the categories seen in training (an unseen category encodes as
all zeros, and is counted). Missing numeric values, where the policy imputes them, take the training
median; a missing category is a category of its own.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
MISSING_CATEGORY = "(missing)"


def is_numeric(column: pd.Series) -> bool:
    """Numbers and booleans are numeric; strings, categories and mixed objects are categorical."""
    return pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype)


class FeatureEncoder:
    """Standardise ``numeric`` columns and one-hot encode ``categorical`` ones (statistics from ``fit`` rows)."""

    def __init__(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric, self.categorical = list(numeric), list(categorical)

    def fit(self, train: pd.DataFrame) -> FeatureEncoder:
        values = train[self.numeric].astype(float)
        self.medians = values.median()
        self.means = values.mean()
        self.stds = values.std(ddof=0).where(lambda s: s > 0, 1.0)
        self.categories = {c: sorted(_as_categories(train[c]).unique()) for c in self.categorical}
        return self

    @property
    def names(self) -> list[str]:
        """One name per output column: numeric names, then ``column=category`` for each one-hot column."""
        return self.numeric + [f"{c}={v}" for c in self.categorical for v in self.categories[c]]

    def transform(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        numeric = ((frame[self.numeric].astype(float).fillna(self.medians) - self.means) / self.stds).to_numpy()
        blocks = [numeric.astype(np.float32)]
        for column in self.categorical:
            values = _as_categories(frame[column])
            known = self.categories[column]
            unseen = int((~values.isin(known)).sum())
            if unseen:
                log.info("%s: %d value(s) of column %r are categories not seen in training; encoded as all zeros",
                         where, unseen, column)
            blocks.append((values.to_numpy()[:, None] == np.array(known, dtype=object)[None, :]).astype(np.float32))
        return np.concatenate(blocks, axis=1)


def _as_categories(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), MISSING_CATEGORY).astype(str)
