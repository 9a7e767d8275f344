"""Production traffic over time: the periods performance and prediction health are counted in,
and prediction health itself.

Pure computations, no I/O: `periods` maps times to the start of their day, week or month;
`health` counts predictions, class shares, mean and spread, and the P(positive) histogram per
period and model version; `health_alerts` says which periods raise an alert (a single class, a
moved positive share) and writes the webhook message; `events`, a run's other alert events and
theirs.
"""

from pipeline.monitor.events import Event
from pipeline.monitor.events import message as event_message
from pipeline.monitor.health import (
    COLUMNS,
    HISTOGRAM_BINS,
    Cell,
    PeriodHealth,
    bin_edges,
    bin_of,
    cells_of,
    health_by_period,
    health_from_cells,
    histogram,
    positive_class,
)
from pipeline.monitor.health_alerts import (
    CRITICALITY,
    Baseline,
    HealthAlert,
    find_alerts,
    message,
    wilson,
)
from pipeline.monitor.periods import PERIODS, period_end, period_start, period_starts

__all__ = [
    "COLUMNS",
    "CRITICALITY",
    "HISTOGRAM_BINS",
    "PERIODS",
    "Baseline",
    "Cell",
    "Event",
    "HealthAlert",
    "PeriodHealth",
    "bin_edges",
    "bin_of",
    "cells_of",
    "event_message",
    "find_alerts",
    "health_by_period",
    "health_from_cells",
    "histogram",
    "message",
    "period_end",
    "period_start",
    "period_starts",
    "positive_class",
    "wilson",
]
