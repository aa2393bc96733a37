"""Run records: writing them safely, finding finished ones, reading them back (through their schema) as tables."""

from bench.results.records import BadFile, is_done, read_record, record_path, run_id, write_record
from bench.results.scan import load_records, runs_table, scan_records, tidy

__all__ = ["BadFile", "is_done", "load_records", "read_record", "record_path", "run_id", "runs_table", "scan_records",
           "tidy", "write_record"]
