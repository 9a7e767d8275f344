"""The operating-system edge: atomic files, the run lock, memory hand-back, crash points.

Standard library only (memory also talks to pyarrow when it is already loaded): the no-op tick
imports it. It imports nothing else of riskwatch but `pipeline.errors`.
"""
