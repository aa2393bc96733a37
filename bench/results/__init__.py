"""Run records: writing them safely, finding finished ones, reading them back as tables."""

from bench.results.records import is_done, read_record, record_path, run_id, write_record
from bench.results.scan import load_records, runs_table, tidy

__all__ = ["is_done", "load_records", "read_record", "record_path", "run_id", "runs_table", "tidy", "write_record"]
