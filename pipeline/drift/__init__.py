"""Data drift: has the new data moved away from what the production model learned from?

Pure computation (numpy; scipy only for small exact KS tests; pandas only when the caller has
it loaded), no file or database I/O, in dependency order:

- `special`: the distribution functions behind the p-values (KS, chi-square), ported from scipy.
- `columns`: reading a column: its kind, float values, category keys and counts.
- `column_profile`: one column of a profile (numeric CDF knots, exact or sketch; categories).
- `profile`: `ReferenceProfile`, fitted once per model version, to and from bytes.
- `twosample`: KS and Wasserstein-1 against a profile's CDF, PSI, chi-square, Jensen-Shannon.
- `thresholds`: `DriftThresholds`, whose defaults and ranges are the ``drift.*`` settings'.
- `compare`: one column compared (`ColumnResult`, `Status`).
- `decision`: Benjamini-Hochberg, the per-column and data-set decision (`detect`, `decide`,
  `DriftResult`) and the M-of-N persistence rule.
- `selftest`: false-alarm rate and power of the thresholds at a batch size.
- `shares` and `histogram`: the distributions recorded with each result, the report's (on the
  reference's PSI bins) and the feature page's (on bins shared by both sides, or the top
  categories with the others grouped).

The I/O edges are `step`: the profile stored with each model version, the run's results
recorded per column (with the `shares` and `histogram` of both sides), the latest
results and the self-test on the production profile; and `adhoc`: two files compared, with no
settings and no database (so no SQLAlchemy import). The run and the CLI import them as modules
(`from pipeline.drift import step`); they may import SQLAlchemy, `pipeline.storage`,
`pipeline.model`, `pipeline.ingest`, `pipeline.settings`, `pipeline.formatting` and
`pipeline.errors`. The pure modules import only `pipeline.settings.table` of riskwatch.

The pure API is exported here lazily (`from pipeline.drift import ReferenceProfile, detect`):
importing the package costs nothing, and numpy is loaded on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.drift.columns import category_key
    from pipeline.drift.compare import ColumnResult, Status
    from pipeline.drift.decision import DriftResult, decide, detect, persistent
    from pipeline.drift.profile import ReferenceProfile
    from pipeline.drift.thresholds import DriftThresholds

_EXPORTS = {
    "ColumnResult": "compare",
    "DriftResult": "decision",
    "DriftThresholds": "thresholds",
    "ReferenceProfile": "profile",
    "Status": "compare",
    "category_key": "columns",
    "decide": "decision",
    "detect": "decision",
    "persistent": "decision",
}

__all__ = [
    "ColumnResult",
    "DriftResult",
    "DriftThresholds",
    "ReferenceProfile",
    "Status",
    "adhoc",  # two files compared, no database (`from pipeline.drift import adhoc`)
    "category_key",
    "decide",
    "detect",
    "persistent",
    "step",  # the run's drift step, a module (imported as `from pipeline.drift import step`)
]


def __getattr__(name: str) -> Any:  # the lazily loaded exports: classes and functions
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
