"""Regenerate golden_single_runs.json: the single-run engine of commit 5401908 on today's synthetic generator.

    git worktree add ../before-populations 5401908
    .venv/bin/python tests/data/make_golden.py ../before-populations tests/data/golden_single_runs.json

The cases are those of tests/test_population.py (CASES), with the same tiny budget.
"""

import functools
import json
import sys
from pathlib import Path

old, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, old)
import bench.data.synthetic as synthetic  # noqa: E402  (the old package, from the worktree)

assert synthetic.__file__.startswith(old), synthetic.__file__
today = Path(__file__).resolve().parents[2] / "bench" / "data" / "synthetic.py"
exec(compile(today.read_text(), str(today), "exec"), synthetic.__dict__)  # today's generator, old engine

import torch  # noqa: E402

from bench.data import make_digits_transfer  # noqa: E402
from bench.models import CNNBackbone, MLPBackbone  # noqa: E402
from bench.regimes import MultiTask, SingleTask, Transfer  # noqa: E402
from bench.regimes.training import Training, quiet_lightning  # noqa: E402

CASES = {
    "stl-reg": (dict(kind="regression"), SingleTask(), "mlp"),
    "mtl-reg": (dict(kind="regression"), MultiTask(), "mlp"),
    "tlfull-reg": (dict(kind="regression"), Transfer("full"), "mlp"),
    "tlprobe-cls": (dict(kind="classification"), Transfer("linear_probe"), "mlp"),
    "mtl-cls3": (dict(kind="classification", n_classes=3), MultiTask(), "mlp"),
    "stl-cls": (dict(kind="classification"), SingleTask(), "mlp"),
    "tlmt-reg-imb": (dict(kind="regression", imbalance=4.0), Transfer("full", "multi_task"), "mlp"),
    "digits-stl-cnn": ("digits", SingleTask(), "cnn"),
    "digits-tlfull-cnn": ("digits", Transfer("full"), "cnn"),
}
BACKBONES = {"mlp": functools.partial(MLPBackbone, width=16, depth=1),
             "cnn": functools.partial(CNNBackbone, channels=(4, 8), width=16)}

torch.set_num_threads(1)
quiet_lightning()
golden = {}
for name, (recipe, regime, backbone) in CASES.items():
    for seed in (0, 1, 2):
        family = (make_digits_transfer(seed, target_size=30) if recipe == "digits" else
                  synthetic.make_synthetic(seed, n_tasks=3, input_dim=6, n_train=24, n_val=32, n_test=64, **recipe))
        training = Training(max_steps=200, eval_every=20, patience=3, batch_size=16)
        tasks, fit = regime.run(family, BACKBONES[backbone], training, seed)
        golden[f"{name}/{seed}"] = {"tasks": tasks, "fit": fit}
Path(out).write_text(json.dumps(golden, indent=1))
print(f"{len(golden)} runs written to {out}")
