"""One tool estimates F1, ROC-AUC and accuracy of 20 periods without labels: its own process.

    python bench/estimation_tools.py TOOL DATADIR SCENARIO OUT.json

TOOL:
- `riskwatch`: `calibration.choose` on the reference (the holdout: cross-validated log loss
  picks none, sigmoid or isotonic), then per period `cbpe.estimate` on the calibrated
  probabilities with its 95% interval (1,000 simulations, as policy.bootstrap_samples, under 50
  calibrations drawn from the fitted one's uncertainty, as monitoring.calibration_draws), and
  `reliability.judge` with the settings' defaults, the labels of each period arriving one period
  later (at period t the realised values of periods up to t - 1 are known, as the labels
  helper's realised_performance would hold them);
- `nannyml`: `CBPE(problem_type="classification_binary", metrics=[roc_auc, f1, accuracy],
  chunk_size=rows per period)` fitted on the reference and `estimate` on the analysis data
  (isotonic calibration, its default); its value, its sampling error (the 95% interval is
  value +- 1.96 sampling errors; its own band, +- 3, is reported too) and its alert.

riskwatch runs in the project's environment, NannyML in bench/.venv-drift; both read with
`pandas.read_parquet`. Timed inside the process: imports, reads, fit, estimate.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

METRICS = ("f1", "roc_auc", "accuracy")
CONFIDENCE = 0.95
Z95 = 1.959963984540054


class Clock:
    def __init__(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.steps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = now - self.last
        self.last = now


def run_riskwatch(data: Path, scenario: str, clock: Clock) -> list[dict]:
    import numpy as np
    import pandas as pd

    from pipeline.estimate import calibration, cbpe, reliability
    from pipeline.settings.table import default

    clock.lap("import")
    reference = pd.read_parquet(data / "reference.parquet")
    analysis = pd.read_parquet(data / f"analysis_{scenario}.parquet")
    realised = json.loads((data / f"realised_{scenario}.json").read_text())
    clock.lap("read")
    cal = calibration.choose(
        reference["proba"].to_numpy(),
        reference["y"].to_numpy().astype(float),
        folds=default("policy.cv_folds"),
        bins=default("monitoring.calibration_bins"),
        seed=0,
        margin=default("monitoring.calibration_margin"),
    )
    clock.lap("fit")
    periods = analysis["period"].to_numpy()
    proba, pred = analysis["proba"].to_numpy(), analysis["pred"].to_numpy() == 1
    calibrated = cal.apply(proba)
    # As the run's estimate step does: the interval carries the calibration's uncertainty.
    drawn = cal.draws(default("monitoring.calibration_draws"), seed=0)
    found = []
    for t in np.unique(periods):
        rows = periods == t
        est = cbpe.estimate(calibrated[rows], pred[rows], proba[rows], metrics=METRICS,
                            samples=default("policy.bootstrap_samples"), confidence=CONFIDENCE,
                            seed=int(t), p_draws=drawn)  # fmt: skip
        found.append((int(t), est))
    clock.lap("estimate")
    out = []
    for t, est in found:
        doc: dict = {"period": t, "calibration": cal.method}
        for m, e in est.items():
            # Labels one period late: the periods before t, newest first.
            checks = [
                reliability.Check(prev[m]["low95"], prev[m]["high95"], realised[s][m])
                for s, prev in reversed(list(enumerate(o for o in out)))
            ]
            ok, why = reliability.judge(
                n_rows=e.n_rows,
                ece=cal.ece,
                checks=checks,
                max_calibration_error=default("monitoring.max_calibration_error"),
                min_rows=default("monitoring.min_period_rows"),
                check_periods=default("monitoring.estimate_check_periods"),
                confidence=CONFIDENCE,
            )
            doc[m] = {"value": e.value, "low95": e.ci_low, "high95": e.ci_high,
                      "reliable": ok, "reason": why}  # fmt: skip
        out.append(doc)
    clock.lap("judge")
    return out


def run_nannyml(data: Path, scenario: str, clock: Clock) -> list[dict]:
    import warnings

    import nannyml as nml
    import pandas as pd

    clock.lap("import")
    reference = pd.read_parquet(data / "reference.parquet")
    analysis = pd.read_parquet(data / f"analysis_{scenario}.parquet")
    clock.lap("read")
    size = int((analysis["period"] == 0).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the resulting number of chunks is too low"
        est = nml.CBPE(
            problem_type="classification_binary",
            y_pred_proba="proba",
            y_pred="pred",
            y_true="y",
            metrics=list(METRICS),
            chunk_size=size,
        )
        est.fit(reference)
        clock.lap("fit")
        table = est.estimate(analysis.drop(columns="period")).filter(period="analysis").to_df()
        clock.lap("estimate")
    out = []
    for i in range(len(table)):
        doc: dict = {"period": i}
        for m in METRICS:
            value = float(table[(m, "value")].iloc[i])
            se = float(table[(m, "sampling_error")].iloc[i])
            doc[m] = {
                "value": value,
                "low95": value - Z95 * se,
                "high95": value + Z95 * se,
                "band_low": float(table[(m, "lower_confidence_boundary")].iloc[i]),
                "band_high": float(table[(m, "upper_confidence_boundary")].iloc[i]),
                "alert": bool(table[(m, "alert")].iloc[i]),
            }
        out.append(doc)
    return out


def engine() -> dict:
    """Which riskwatch was measured, and whether its modules' bytecode was cached (without the
    cache, as under PYTHONDONTWRITEBYTECODE=1 in a fresh checkout, every process compiles
    them: some 15 ms more of imports)."""
    mods = [m for name, m in sys.modules.items() if name.startswith("pipeline.")]
    cached = all(
        getattr(m, "__cached__", None) and Path(m.__cached__).is_file()
        and Path(m.__cached__).stat().st_mtime >= Path(m.__file__).stat().st_mtime
        for m in mods
    )  # fmt: skip
    return {"engine": str(Path(sys.modules["pipeline"].__file__).parent), "bytecode_cached": cached}


def main(tool: str, data: Path, scenario: str, out: Path) -> None:
    from importlib import metadata

    clock = Clock()
    periods = {"riskwatch": run_riskwatch, "nannyml": run_nannyml}[tool](data, scenario, clock)
    inside = time.perf_counter() - clock.t0
    out.write_text(
        json.dumps(
            {
                **(engine() if tool == "riskwatch" else {}),
                "tool": tool,
                "version": metadata.version("riskwatch" if tool == "riskwatch" else "nannyml"),
                "scenario": scenario,
                "inside_s": inside,
                "work_s": clock.steps["fit"] + clock.steps["estimate"],
                "steps_s": clock.steps,
                "periods": periods,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
