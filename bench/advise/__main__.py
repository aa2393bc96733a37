"""``python -m bench.advise data=... [--confirm]``: which regime for this family, before training anything.

The overrides compose the job config exactly as for ``python -m bench.run`` (any family: a table, digits,
synthetic, OpenML). The family's training rows are measured (bench/advise/descriptors.py), the shipped
advisor (bench/advise/data/advisor.json, trained by ``make advisor``) predicts, and the answer is printed and
written to ``reports/<study_name>/advice.md`` and ``advice.json``. ``--confirm`` then runs a small pilot of the
recommended arm and STL and says whether it agrees.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from hydra.errors import HydraException, InstantiationException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.advise import AdviceError
from bench.advise.advice import Advice, advise, markdown, summary_lines
from bench.advise.confirm import confirm
from bench.advise.corpus import load_settings
from bench.advise.descriptors import DESCRIPTORS, describe
from bench.advise.model import load_advisor
from bench.advise.pilot import composed
from bench.advise.train import ADVISOR
from bench.checks import ConfigError, check_config
from bench.cli import describe as describe_config_error
from bench.data.family import FamilyError
from bench.size_guard import FamilyTooLarge, check_size


def _first_seed(seed) -> int:
    """The seed the family is drawn with: the first of a population's."""
    return int(seed[0]) if OmegaConf.is_list(seed) else int(seed)


def run(overrides: list[str], do_confirm: bool, advisor_path: Path, out: Path) -> Advice:
    import torch

    from bench.data.validation import draw_family

    try:
        cfg = composed(overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise AdviceError(describe_config_error(error)) from None
    check_config(cfg, overrides)
    check_size(cfg)
    advisor = load_advisor(advisor_path, list(DESCRIPTORS))
    torch.set_num_threads(cfg.threads)
    seed = _first_seed(cfg.seed)
    try:
        family = draw_family(cfg.data, seed)
    except InstantiationException as error:  # the data's own error (a FamilyError names the key), in one line
        cause = error.__cause__ or error
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise AdviceError(text if isinstance(cause, FamilyError) else f"data: {type(cause).__name__}: {text}") from None
    settings = load_settings()
    advice = advise(advisor, describe(family, seed), family, int(cfg.trainer.max_steps), settings["confirm"])
    command = "python -m bench.advise " + " ".join(shlex.quote(o) for o in overrides)
    if do_confirm:
        advice = dataclasses.replace(advice, confirmation=confirm(cfg, overrides, advice, family, settings["confirm"]))
    folder = out / cfg.study_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "advice.md").write_text(markdown(advice, command))
    (folder / "advice.json").write_text(json.dumps({"command": command, **dataclasses.asdict(advice)}, indent=1) + "\n")
    print("\n".join(summary_lines(advice, command)))
    print(f"  written: {folder / 'advice.md'}, {folder / 'advice.json'}")
    return advice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.advise", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for bench.run (e.g. data=digits_tasks)")
    parser.add_argument("--confirm", action="store_true", help="run a small pilot of the recommendation and STL")
    parser.add_argument("--advisor", type=Path, default=ADVISOR, help="the trained advisor file")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="advice goes to OUT/<study_name>/")
    args = parser.parse_args(argv)
    try:
        run(args.overrides, args.confirm, args.advisor, args.out)
    except (AdviceError, ConfigError, FamilyError, FamilyTooLarge) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
