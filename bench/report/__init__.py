"""The reporting stage: run records in, tables and figures out (never live models)."""
