"""Every arm of a figure is told apart: its own colour and marker, the same for a known arm in every figure."""

from __future__ import annotations

from bench.report.plots import PALETTE, arm_styles


def test_the_anchors_and_regimes_of_a_study_each_get_their_own_colour_and_marker():
    arms = ["stl", "mtl", "tl-full", "tl-linear_probe", "sklearn-ridge", "sklearn-ridge_pooled",
            "sklearn-ridge_pooled_tasks"]
    styles = arm_styles(arms)
    assert len({s.color for s in styles.values()}) == len(arms)
    assert styles["sklearn-ridge"].linestyle == "--" and styles["stl"].linestyle == "-"
    assert arm_styles(["stl", "sklearn-ridge"])["sklearn-ridge"] == styles["sklearn-ridge"]  # fixed everywhere


def test_many_unnamed_arms_never_share_a_colour():
    arms = ["stl", *[f"mtl-method{i}" for i in range(len(PALETTE))]]
    styles = arm_styles(arms)
    assert len({s.color for s in styles.values()}) == len(arms)
    assert len({(s.color, s.marker) for s in styles.values()}) == len(arms)
