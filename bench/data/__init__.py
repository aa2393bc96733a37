"""Task families: the data every regime is compared on."""

from bench.data.bundled import make_bundled_table
from bench.data.digits import make_digits_tasks, make_digits_transfer
from bench.data.family import FamilyError, Split, Task, TaskFamily
from bench.data.frame import TableError, family_from_frame
from bench.data.mnist import make_mnist_digits
from bench.data.openml import make_openml
from bench.data.synthetic import make_synthetic
from bench.data.table import make_table, read_table

__all__ = [
    "FamilyError", "Split", "TableError", "Task", "TaskFamily", "family_from_frame", "make_bundled_table",
    "make_digits_tasks", "make_digits_transfer", "make_mnist_digits", "make_openml", "make_synthetic", "make_table",
    "read_table",
]
