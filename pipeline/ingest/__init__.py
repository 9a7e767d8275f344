"""Ingestion and the quality gate: finding new files, reading them, the data contract, the
checks and their vocabulary, keeping good rows and quarantining bad ones, and alerts.

`discovery` and `vocabulary` are standard library only (the no-op tick and the settings use them).
The checks are pure computation on a frame; `ingestion` and `contract_tools` do the file I/O.
"""
