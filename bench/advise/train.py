"""``python -m bench.advise.train``: both heads on the whole corpus -> the advisor file that ships
(``bench/advise/data/advisor.json``, with the corpus's sha256), so that ``bench.advise`` never trains."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bench.advise.corpus import CORPUS, corpus_hash
from bench.advise.descriptors import DESCRIPTORS
from bench.advise.model import Advisor, fit_head
from bench.advise.outcomes import HEADS, MARGIN

ADVISOR = Path(__file__).parent / "data" / "advisor.json"


def train(corpus: pd.DataFrame, corpus_sha256: str) -> Advisor:
    """Each head on the examples that have its outcome, strength and calibration chosen across families."""
    heads = {}
    for head in HEADS:
        rows = corpus[corpus[f"{head}_beats"].notna()]
        heads[head] = fit_head(rows[list(DESCRIPTORS)].to_numpy(float), rows[f"{head}_beats"].to_numpy(int),
                               rows["family"].to_numpy())
    return Advisor(list(DESCRIPTORS), heads, corpus_sha256, MARGIN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.advise.train", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the corpus (CSV) built by bench.advise.corpus")
    parser.add_argument("--advisor", type=Path, default=ADVISOR, help="where to write the advisor file")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"error: no corpus at {args.corpus}; build it with `make advisor`", file=sys.stderr)
        return 1
    advisor = train(pd.read_csv(args.corpus), corpus_hash(args.corpus))
    advisor.save(args.advisor)
    summary = ", ".join(f"{name}: {h.examples} examples, {h.positives} yes, C={h.strength}"
                        for name, h in advisor.heads.items())
    print(f"[advisor] trained ({summary}) -> {args.advisor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
