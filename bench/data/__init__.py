"""Task families: the data every regime is compared on."""

from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.synthetic import make_synthetic

__all__ = ["FamilyError", "Split", "Task", "TaskFamily", "make_synthetic"]
