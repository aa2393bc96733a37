"""A made-up corpus whose answers follow two descriptors, for the advisor's model, validation and CLI tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.advise.descriptors import DESCRIPTORS


def fake_corpus(families: int = 6, conditions: int = 8, seed: int = 0) -> pd.DataFrame:
    """MTL beats STL where ``pooled_gain`` > 0, TL where ``log_target_rows`` < 5; the rest is noise. The pilot
    is right three times in four; the last family ran no transfer arm."""
    rng = np.random.default_rng(seed)
    rows = []
    for family in range(families):
        for condition in range(conditions):
            values = {name: rng.standard_normal() for name in DESCRIPTORS}
            values["pooled_gain"] = rng.uniform(-1, 1)
            values["log_target_rows"] = rng.uniform(2, 8)
            mtl, tl = values["pooled_gain"] > 0, values["log_target_rows"] < 5
            has_tl = family < families - 1
            rows.append({"family": f"f{family}", "source": f"s{family // 2}", "condition": f"c={condition}",
                         "seeds": 5, **values, "descriptor_seconds": 1.0, "step_ms": 2.0, "study_seconds": 100.0,
                         "pilot_seconds": 20.0,
                         "mtl_gain": 5.0 if mtl else -5.0, "mtl_beats": float(mtl),
                         "mtl_seed_share": 0.8 if mtl else 0.2,
                         "tl_gain": (8.0 if tl else -3.0) if has_tl else np.nan,
                         "tl_beats": float(tl) if has_tl else np.nan,
                         "tl_seed_share": (0.9 if tl else 0.1) if has_tl else np.nan,
                         "pilot_mtl_seed_share": float(mtl) if rng.random() < 0.75 else float(not mtl),
                         "pilot_tl_seed_share": (float(tl) if rng.random() < 0.75 else float(not tl))
                         if has_tl else np.nan})
    return pd.DataFrame(rows)
