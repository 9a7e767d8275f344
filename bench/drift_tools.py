"""One tool compares the current Parquet file with the reference one: run as its own process.

    python bench/drift_tools.py TOOL DATADIR OUT.json [PROFILE]

TOOL:
- `floor`: read both files, `np.sort` every numeric column of each once and count each
  categorical one once (`value_counts`): the least any exact comparison of the two
  distributions must do;
- `riskwatch` (cold): read the reference, `ReferenceProfile().fit` it, read the current file,
  `detect(profile, frame, DriftThresholds())`, `to_dict()`;
- `riskwatch_fit`: read the reference, fit, write `to_bytes()` to PROFILE (what training does
  once per model version; it prepares the warm run and is timed apart);
- `riskwatch_warm`: read PROFILE, `from_bytes`, read the current file, detect (the cron path);
- `evidently`: `Report([DataDriftPreset()]).run(current, reference)` on two `Dataset`s with a
  `DataDefinition` naming the numeric and the categorical columns, then `snapshot.dict()`;
- `nannyml`: `UnivariateDriftCalculator(column_names, treat_as_categorical, KS and Wasserstein,
  chi2 and Jensen-Shannon, chunk_number=1)`, fit on the reference, calculate on the current
  file, `filter(period="analysis").to_df()`.

riskwatch and the floor run in the project's environment, Evidently and NannyML in
bench/.venv-drift. Every tool reads with `pandas.read_parquet` (pyarrow), the reader riskwatch
uses. Timed inside the process: the imports, the reads, and the drift work itself (`drift_s`:
everything after the reads up to the per-column result in hand, reference processing included
when cold), split in its steps. Memory: VmRSS after the import and after the reads, VmHWM at the
end; the parent reads the process's peak from wait4. What each tool flagged is written with its
scores, for bench_drift.py to print against the truth.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from quality_tools import peak, rss

TOOLS = ("floor", "riskwatch", "riskwatch_fit", "riskwatch_warm", "evidently", "nannyml")
NANNYML_CONTINUOUS = ["kolmogorov_smirnov", "wasserstein"]
NANNYML_CATEGORICAL = ["chi2", "jensen_shannon"]


def read(path: Path):
    """The one way every tool reads a file (as pipeline.ingest.readers does)."""
    import pandas as pd

    return pd.read_parquet(path)


def columns(frame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) column names: integer and float dtypes are numeric (both shapes
    of drift_data.py are written so), the rest (text, pandas `category`) categorical."""
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "iuf"]
    return numeric, [c for c in frame.columns if c not in numeric]


class Clock:
    """Named steps, wall time each, plus VmRSS after each."""

    def __init__(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.steps: dict[str, float] = {}
        self.rss: dict[str, int] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = self.steps.get(name, 0.0) + now - self.last
        self.rss[name] = rss()
        self.last = now


# --- the floor ------------------------------------------------------------------------------


def run_floor(data: Path, clock: Clock, profile: Path | None) -> dict:
    import numpy as np

    clock.lap("import")
    frames = [read(data / "reference.parquet"), read(data / "current.parquet")]
    clock.lap("read")
    numeric, categorical = columns(frames[0])
    for frame in frames:
        for name in numeric:
            np.sort(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))
    clock.lap("sort")
    for frame in frames:
        for name in categorical:
            frame[name].value_counts(dropna=True, sort=False)
    clock.lap("count")
    frame_bytes = [int(f.memory_usage(deep=True).sum()) for f in frames]  # after the clocks
    return {"drift_steps": ["sort", "count"], "frame_bytes": frame_bytes, "columns": {}}


# --- riskwatch ------------------------------------------------------------------------------


def _rw_kinds(frame) -> dict[str, str]:
    _, categorical = columns(frame)
    return dict.fromkeys(categorical, "categorical")


def _rw_columns(result) -> dict:
    return {
        c["column"]: {
            "flagged": bool(c["drifted"]),
            "status": c["status"],
            "effect_size": c["effect_size"],
            "p_adjusted": c["p_adjusted"],
        }
        for c in result["columns"]
    }


def run_riskwatch(data: Path, clock: Clock, profile: Path | None) -> dict:
    from pipeline.drift import DriftThresholds, ReferenceProfile, detect

    clock.lap("import")
    reference = read(data / "reference.parquet")
    clock.lap("read")
    fitted = ReferenceProfile().fit(reference, kinds=_rw_kinds(reference))
    del reference  # the profile stands for it from here on, as in a run
    clock.lap("fit")
    current = read(data / "current.parquet")
    clock.lap("read")
    result = detect(fitted, current, DriftThresholds()).to_dict()
    clock.lap("detect")
    return {"drift_steps": ["fit", "detect"], "columns": _rw_columns(result)}


def run_riskwatch_fit(data: Path, clock: Clock, profile: Path | None) -> dict:
    from pipeline.drift import ReferenceProfile

    assert profile is not None
    clock.lap("import")
    reference = read(data / "reference.parquet")
    clock.lap("read")
    fitted = ReferenceProfile().fit(reference, kinds=_rw_kinds(reference))
    clock.lap("fit")
    blob = fitted.to_bytes()
    profile.write_bytes(blob)
    clock.lap("store")
    return {"drift_steps": ["fit", "store"], "profile_bytes": len(blob), "columns": {}}


def run_riskwatch_warm(data: Path, clock: Clock, profile: Path | None) -> dict:
    from pipeline.drift import DriftThresholds, ReferenceProfile, detect

    assert profile is not None
    clock.lap("import")
    fitted = ReferenceProfile.from_bytes(profile.read_bytes())
    clock.lap("load_profile")
    current = read(data / "current.parquet")
    clock.lap("read")
    result = detect(fitted, current, DriftThresholds()).to_dict()
    clock.lap("detect")
    return {"drift_steps": ["load_profile", "detect"], "columns": _rw_columns(result)}


# --- Evidently ------------------------------------------------------------------------------


def run_evidently(data: Path, clock: Clock, profile: Path | None) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    clock.lap("import")
    reference = read(data / "reference.parquet")
    current = read(data / "current.parquet")
    clock.lap("read")
    numeric, categorical = columns(reference)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    clock.lap("datasets")
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    clock.lap("report")
    doc = snapshot.dict()
    clock.lap("result")
    found: dict[str, dict] = {}
    counted = None
    for metric in doc["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            counted = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            method, threshold, score = config["method"], config["threshold"], metric["value"]
            # Evidently's rule: a p-value below the threshold, or a distance at or above it.
            pvalue = "p_value" in method
            flagged = score < threshold if pvalue else score >= threshold
            found[config["column"]] = {
                "flagged": bool(flagged),
                "method": method,
                "threshold": threshold,
                "score": score,
            }
    if counted is not None and counted != sum(c["flagged"] for c in found.values()):
        raise AssertionError(f"DriftedColumnsCount says {counted}, the columns say otherwise")
    return {"drift_steps": ["datasets", "report", "result"], "columns": found}


# --- NannyML --------------------------------------------------------------------------------


def run_nannyml(data: Path, clock: Clock, profile: Path | None) -> dict:
    import warnings

    import nannyml as nml

    clock.lap("import")
    reference = read(data / "reference.parquet")
    current = read(data / "current.parquet")
    clock.lap("read")
    numeric, categorical = columns(reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the resulting number of chunks is too low"
        calc = nml.UnivariateDriftCalculator(
            column_names=numeric + categorical,
            treat_as_categorical=categorical,
            continuous_methods=NANNYML_CONTINUOUS,
            categorical_methods=NANNYML_CATEGORICAL,
            chunk_number=1,
        )
        calc.fit(reference)
        clock.lap("fit")
        result = calc.calculate(current)
        clock.lap("calculate")
        table = result.filter(period="analysis").to_df()
        clock.lap("result")
    found: dict[str, dict] = {}
    for name in numeric + categorical:
        methods = NANNYML_CONTINUOUS if name in numeric else NANNYML_CATEGORICAL
        per = {}
        for m in methods:
            upper = table[(name, m, "upper_threshold")].iloc[0]
            per[m] = {
                "value": float(table[(name, m, "value")].iloc[0]),
                "alert": bool(table[(name, m, "alert")].iloc[0]),
                "upper_threshold": None if upper is None or upper != upper else float(upper),
            }
        found[name] = {"flagged": any(v["alert"] for v in per.values()), "methods": per}
    return {"drift_steps": ["fit", "calculate", "result"], "columns": found}


# --- the child ------------------------------------------------------------------------------

RUN = {
    "floor": run_floor,
    "riskwatch": run_riskwatch,
    "riskwatch_fit": run_riskwatch_fit,
    "riskwatch_warm": run_riskwatch_warm,
    "evidently": run_evidently,
    "nannyml": run_nannyml,
}


def version(tool: str) -> str:
    from importlib import metadata

    if tool.startswith("riskwatch"):
        import hashlib

        import pipeline.drift

        package = Path(pipeline.drift.__file__).parent
        digest = hashlib.sha256()
        for source in sorted(package.glob("*.py")):  # the drift engine is every module of it
            digest.update(source.read_bytes())
        return (
            f"{metadata.version('riskwatch')} (engine {package}, drift {digest.hexdigest()[:12]})"
        )
    if tool == "floor":
        return "numpy " + metadata.version("numpy")
    return metadata.version(tool)


def main(tool: str, data: Path, out: Path, profile: Path | None) -> None:
    clock = Clock()
    import pandas as pd  # every tool's import time includes pandas'

    doc = RUN[tool](data, clock, profile)
    wall = time.perf_counter() - clock.t0
    steps = clock.steps
    from importlib import metadata

    doc.update(
        tool=tool,
        version=version(tool),
        pandas=pd.__version__,
        numpy=metadata.version("numpy"),
        pyarrow=metadata.version("pyarrow"),
        inside_s=wall,
        import_s=steps["import"],
        read_s=steps.get("read", 0.0),
        drift_s=sum(steps[s] for s in doc["drift_steps"]),
        steps_s=steps,
        rss_after_import_bytes=clock.rss["import"],
        rss_after_read_bytes=clock.rss.get("read"),
        rss_after_steps_bytes=clock.rss,
        peak_inside_bytes=peak(),
        flagged=sorted(c for c, v in doc["columns"].items() if v["flagged"]),
    )
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in TOOLS:
        raise SystemExit("usage:" + __doc__.split("\n\n")[1])
    main(
        sys.argv[1],
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        Path(sys.argv[4]) if len(sys.argv) == 5 else None,
    )
