"""Production traffic over time: the periods performance and prediction health are counted in.

Pure computations, no I/O: `periods` maps times to the start of their day, week or month.
"""

from pipeline.monitor.periods import PERIODS, period_end, period_start, period_starts

__all__ = ["PERIODS", "period_end", "period_start", "period_starts"]
