"""Training regimes: how a family's tasks are learned (alone, together, or in sequence)."""

from bench.regimes.classical import Classical
from bench.regimes.multi_task import MultiTask
from bench.regimes.single_task import SingleTask
from bench.regimes.transfer import Transfer

__all__ = ["Classical", "MultiTask", "SingleTask", "Transfer"]
