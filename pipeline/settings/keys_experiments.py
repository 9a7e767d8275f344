"""Settings rows: experiments with DVC (dvc.yaml at the root, `riskwatch experiments`)."""

from __future__ import annotations

from pipeline.settings.setting import Setting

EXPERIMENTS: tuple[Setting, ...] = (
    Setting(
        "experiments.remote",
        "../riskwatch-dvc-remote",
        "path",
        "Folder that serves as the DVC remote (`dvc push`, `dvc pull`, no network): set as the "
        "project's default remote by `riskwatch experiments init` and `snapshot` when it has "
        "none. Relative to this file's folder, so by default beside the checkout, outside git; "
        "not a file, nor inside the data, the registry, the inbox or experiments/.",
    ),
    Setting(
        "experiments.snapshot",
        "manual",
        "choice",
        "When the experiments' data snapshot (experiments/data: the ingested Parquet files and "
        "the registry, tracked by DVC) is refreshed: manual (`riskwatch experiments snapshot`), "
        "or tick (also after each tick that ingested files or registered a version, when .dvc/ "
        "exists; a failure there is a warning, never a failed tick).",
        choices=("manual", "tick"),
    ),
)
