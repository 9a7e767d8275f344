"""Generate the bundled sample data: corporate-client attrition in batches that later drift.

Batches before ``drift_from`` come from one market. From ``drift_from`` on, the market changes
in two ways at once, so that a model trained on the early batches degrades clearly:

- covariate shift: the company expands into the east (from 4% of its clients to 55%), activity
  falls across the board (a slowdown) and support tickets rise;
- concept drift: a competitor in the east takes clients there almost regardless of their
  profile; with everybody's activity down, a fall in activity no longer marks a leaver (those
  still busy are the ones moving their data out); long-standing clients, once the most loyal,
  are now the ones the competitor courts; technology clients become restless.

The drift is concentrated where the old data has few rows (the east), so a challenger trained
on old and new rows together can learn it, while the old model cannot.

Everything is computed from the seed and the batch number alone; only ``write_sample_data``
touches the disk. numpy and pandas are imported inside the functions, so that importing this
module (for its column names, or by the CLI) stays cheap.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ID_COLUMN = "corporation"
FEATURES_NUMERIC: tuple[str, ...] = (
    "lastmonth_activity",
    "lastyear_activity",
    "number_of_employees",
    "years_as_client",
    "support_tickets",
)
FEATURES_CATEGORICAL: tuple[str, ...] = ("industry", "region")
TARGET = "exited"
COLUMNS: tuple[str, ...] = (ID_COLUMN, *FEATURES_NUMERIC, *FEATURES_CATEGORICAL, TARGET)

INDUSTRIES: tuple[str, ...] = (
    "retail",
    "manufacturing",
    "technology",
    "finance",
    "healthcare",
    "logistics",
)
REGIONS: tuple[str, ...] = ("north", "south", "west", "east")
# A field left blank in the CRM now and then: about 1.5% of these two columns is missing.
MISSING_COLUMNS: tuple[str, ...] = ("lastmonth_activity", "years_as_client")
MISSING_SHARE = 0.015

# An id is "C", two digits of batch (00 is the test file) and seven digits of row, so that the
# ids of every file one seed produces are distinct.
MAX_BATCH = 99
MAX_ROWS = 9_999_999
_TEST_BATCH = 0


@dataclass(frozen=True)
class _Market:
    """How clients look and why they leave, in one period."""

    industry_p: tuple[float, ...]
    region_p: tuple[float, ...]
    activity_trend: float  # mean log-ratio of last month's activity to last year's
    ticket_rate: float
    intercept: float
    decline_effect: float  # per unit of relative fall in activity, 1 - lastmonth / lastyear
    employees_effect: float  # per unit of log(employees / 40)
    tickets_effect: float  # per ticket above the base market's mean
    years_effect: float  # per year as a client beyond six
    industry_effect: tuple[float, ...]
    region_effect: tuple[float, ...]


# Effects are on the log-odds of leaving. The base market leaves ~28% of clients a year; the
# drifted one ~33% (intercepts calibrated on a large sample).
_BASE = _Market(
    industry_p=(0.22, 0.20, 0.18, 0.15, 0.13, 0.12),
    region_p=(0.37, 0.32, 0.27, 0.04),
    activity_trend=0.0,
    ticket_rate=1.5,
    intercept=-1.85,
    decline_effect=10.0,
    employees_effect=-0.6,
    tickets_effect=0.8,
    years_effect=-0.3,
    industry_effect=(0.5, 0.0, 0.2, -0.4, -0.5, 0.3),
    region_effect=(0.0, 0.1, -0.1, 0.0),
)

_DRIFTED = _Market(
    industry_p=_BASE.industry_p,
    region_p=(0.18, 0.15, 0.12, 0.55),
    activity_trend=-0.10,
    ticket_rate=2.0,
    intercept=-4.35,
    decline_effect=-2.0,
    employees_effect=-0.3,
    tickets_effect=0.4,
    years_effect=0.15,
    industry_effect=(0.5, 0.0, 1.0, -0.4, -0.5, 0.3),
    region_effect=(0.0, 0.1, -0.1, 4.5),
)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    number = int(value)  # an int, or a numpy integer
    if number < low or (high is not None and number > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return number


def _clients(market: _Market, rng: np.random.Generator, batch: int, rows: int) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    industry = rng.choice(len(INDUSTRIES), size=rows, p=market.industry_p)
    region = rng.choice(len(REGIONS), size=rows, p=market.region_p)
    employees = np.maximum(1, np.rint(rng.lognormal(np.log(40), 1.1, rows))).astype(np.int64)
    log_size = np.log(employees / 40)
    years = rng.gamma(2.0, 3.0, rows)
    # Activity is a monthly average (logins, transactions); bigger clients are somewhat busier.
    lastyear = rng.lognormal(np.log(120) + 0.25 * log_size, 0.35, rows)
    ratio = np.exp(rng.normal(market.activity_trend, 0.22, rows))
    lastmonth = lastyear * ratio
    tickets = rng.poisson(market.ticket_rate * np.exp(0.15 * log_size)).astype(np.int64)

    logit = (
        market.intercept
        + market.decline_effect * (1 - ratio)
        + market.employees_effect * log_size
        + market.tickets_effect * (tickets - _BASE.ticket_rate)
        + market.years_effect * (years - 6)
        + np.asarray(market.industry_effect)[industry]
        + np.asarray(market.region_effect)[region]
    )
    exited = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"C{batch:02d}{i:07d}" for i in range(1, rows + 1)],
            "lastmonth_activity": np.round(lastmonth, 1),
            "lastyear_activity": np.round(lastyear, 1),
            "number_of_employees": employees,
            "years_as_client": np.round(years, 1),
            "support_tickets": tickets,
            "industry": np.asarray(INDUSTRIES, dtype=object)[industry],
            "region": np.asarray(REGIONS, dtype=object)[region],
            TARGET: exited,
        }
    )
    for column in MISSING_COLUMNS:
        frame.loc[rng.random(rows) < MISSING_SHARE, column] = np.nan
    return frame


def generate_batch(batch: int, rows: int, seed: int = 7, drift_from: int = 3) -> pd.DataFrame:
    """Return batch ``batch`` (from 1): the base market before ``drift_from``, drifted after."""
    import numpy as np

    batch = _check_int("batch", batch, 1, MAX_BATCH)
    rows = _check_int("rows", rows, 1, MAX_ROWS)
    seed = _check_int("seed", seed, 0)
    drift_from = _check_int("drift_from", drift_from, 1)
    market = _DRIFTED if batch >= drift_from else _BASE
    return _clients(market, np.random.default_rng([seed, batch]), batch, rows)


def generate_test(rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    """Return a labelled test set from the base market, with ids that no batch uses."""
    import numpy as np

    rows = _check_int("rows", rows, 1, MAX_ROWS)
    seed = _check_int("seed", seed, 0)
    return _clients(_BASE, np.random.default_rng([seed, _TEST_BATCH]), _TEST_BATCH, rows)


def write_sample_data(
    directory: Path,
    *,
    seed: int = 7,
    batches: int = 4,
    rows: int = 2000,
    drift_from: int = 3,
    test_rows: int = 1000,
    progress: Callable[[int, str], None] | None = None,
) -> list[Path]:
    """Write the batches to ``directory/sourcedata``, the test set to ``directory/testdata``.

    ``progress``, if given, is called after each file with the rows written so far and the
    file's name (`sample_rows` is the total).
    """
    # Check everything before writing anything, so a bad argument leaves no partial set behind.
    batches = _check_int("batches", batches, 1, MAX_BATCH)
    rows = _check_int("rows", rows, 1, MAX_ROWS)
    test_rows = _check_int("test_rows", test_rows, 1, MAX_ROWS)
    seed = _check_int("seed", seed, 0)
    drift_from = _check_int("drift_from", drift_from, 1)

    directory = Path(directory)
    written = []
    for batch in range(1, batches + 1):
        path = directory / "sourcedata" / f"clients_batch_{batch:02d}.csv"
        _write_csv(path, generate_batch(batch, rows, seed=seed, drift_from=drift_from))
        written.append(path)
        if progress is not None:
            progress(batch * rows, path.name)
    path = directory / "testdata" / "testdata.csv"
    _write_csv(path, generate_test(test_rows, seed=seed))
    written.append(path)
    if progress is not None:
        progress(sample_rows(batches, rows, test_rows), path.name)
    return written


def sample_rows(batches: int, rows: int, test_rows: int) -> int:
    """The rows `write_sample_data` writes in all: every batch and the test set."""
    return batches * rows + test_rows


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    from pipeline.infra.files import atomic_write

    def write(tmp: Path) -> None:
        frame.to_csv(tmp, index=False, lineterminator="\n")
        # The temporary file is created owner-only; sample data is for everyone to read.
        tmp.chmod(0o644)

    atomic_write(path, write)
