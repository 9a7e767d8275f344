"""The quality gate's own commands: infer the contract from training data, enforce its learned
rules, check files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError, InvalidArgument, RiskwatchError
from pipeline.ingest import contract as contracts
from pipeline.settings import Settings
from pipeline.storage import db, writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.ingest.contract import Contract
    from pipeline.ingest.violations import QualityResult


def infer_contract(settings: Settings, source: Path | None, *, force: bool) -> tuple[Path, str]:
    """Write paths.contract inferred from `source`, or from all ingested data; return it.

    Ingested data is summarised one file at a time and the summaries merged: all of history
    is never in memory at once.
    """
    import pandas as pd

    from pipeline.ingest.readers import read_file

    path = settings.path("paths.contract")
    if path.exists() and not force:
        raise RiskwatchError(f"{path} exists; review it, or pass --force to replace it")
    if source is not None:
        summaries = [_summary(read_file(source, settings["data.categorical"]), settings)]
    else:
        with db.opened(settings.database_url) as engine, engine.connect() as conn:
            rows = writes.ingested_rows(conn, pending_only=False)
        if not rows:
            raise DataError("no ingested data to infer a contract from: pass --from FILE")
        base = settings.path("paths.ingested")
        summaries = [_summary(pd.read_parquet(base / r.data_path), settings) for r in rows]
    contract = contract_from_summary(contracts.merge(summaries), settings)
    contracts.save(contract, path)
    return path, contract.version


def _summary(frame: pd.DataFrame, settings: Settings) -> contracts.DataSummary:
    classification = settings["model.task"] == "classification"
    return contracts.summarise(
        frame,
        categorical=settings["data.categorical"],
        target=settings["data.target"] if classification else None,
    )


def contract_from_frame(frame: pd.DataFrame, settings: Settings) -> contracts.Contract:
    """The contract the settings imply for this data; DataError when target or ids are absent."""
    return contract_from_summary(_summary(frame, settings), settings)


def contract_from_summary(summary: contracts.DataSummary, settings: Settings) -> contracts.Contract:
    """The contract the settings imply for the summarised data (one file or many merged)."""
    from pipeline.model.features import infer_features

    # The target may be absent: unlabelled data is data (issue 12); its label set comes later.
    missing = [c for c in settings["data.id_columns"] if c not in summary.columns]
    if missing:
        raise DataError(f"cannot infer a contract: column(s) {missing} missing from the data")
    features = infer_features(summary.stand_in(), settings)
    return contracts.infer_summary(
        summary,
        target=settings["data.target"],
        id_columns=settings["data.id_columns"],
        features=features.columns,
        categorical=features.categorical,
        task=settings["model.task"],
        range_margin=settings["quality.range_margin"],
        missing_margin=settings["quality.missing_margin"],
        missing_significance=settings["quality.missing_significance"],
        unique_ids=settings["data.unique_ids"],
        timestamp=settings["data.timestamp_column"],
    )


def enforce_contract(settings: Settings, columns: list[str], *, every: bool) -> dict[str, Any]:
    """Set `enforce = true` on these columns' learned rules (or on all) in paths.contract.

    The file is rewritten in place (a person's comments stay); its new text is a new contract
    version, which the next run records.
    """
    path = settings.path("paths.contract")
    if bool(columns) == every:
        raise InvalidArgument("name the columns to enforce, or pass --all (not both)")
    before = contracts.load(path)
    after = contracts.enforced(before, None if every else columns, str(path))
    if after.text != before.text:
        contracts.save(after, path)
    return {
        "contract": str(path),
        "previous_version": before.version,
        "version": after.version,
        "changed": after.text != before.text,
        "enforced": sorted(r.name for r in after.columns.values() if r.learned and r.enforce),
        "not_enforced": sorted(
            r.name for r in after.columns.values() if r.learned and not r.enforce
        ),
    }


def check_files(settings: Settings, paths: list[Path]) -> dict[str, Any]:
    """The gate's verdict on files, without ingesting or recording anything."""
    from pipeline.ingest.checks import check_frame, file_problem, flag_invalid_share
    from pipeline.ingest.readers import read_file

    contract = features_required(contracts.load(settings.path("paths.contract")), settings)
    overrides = settings["quality.criticality"]
    text = contract.text_columns
    files = []
    for path in paths:
        try:
            frame = read_file(path, text, contract.id_columns)
        except DataError as exc:
            result = file_problem(exc.error_type or "unreadable", str(exc), overrides, exc.column)
        else:
            result = check_frame(
                frame,
                contract,
                overrides,
                settings["quality.missing_significance"],
                unlabelled=settings["data.unlabelled_files"],
                now=datetime.now(UTC),
                max_future_days=settings["quality.timestamp_max_future_days"],
            )
            flag_invalid_share(result, settings["quality.max_invalid_share"], overrides)
        files.append(
            {
                "name": path.name,
                "rows_read": result.rows_read,
                "rows_valid": result.rows_valid,
                "rows_invalid": result.rows_invalid,
                "criticality": result.criticality,
                "rejected": result.rejected.message if result.rejected else None,
                "errors_by_type": result.errors_by_type,
                "rows_kept_with_findings": _rows_kept(result),
                "issues": [{**v.summary(), "kept": v.kept} for v in result.violations],
            }
        )
    return {"contract_version": contract.version, **summarise(files)}


def _rows_kept(result: QualityResult) -> int:
    """Rows kept although a learned rule found something in them."""
    import numpy as np

    flagged = np.zeros(result.rows_read, dtype=bool)
    for v in result.kept:
        flagged[v.rows] = True
    return int((flagged & ~result.bad).sum())


def summarise(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over per-file verdicts: the `quality` object scripts read."""
    by_type: dict[str, int] = {}
    for f in files:
        for t, n in f["errors_by_type"].items():
            by_type[t] = by_type.get(t, 0) + n
    return {
        "rows_read": sum(f["rows_read"] for f in files),
        "rows_valid": sum(f["rows_valid"] for f in files),
        "rows_quarantined": sum(f["rows_invalid"] for f in files),
        "errors_by_type": dict(sorted(by_type.items())),
        "files": files,
    }


def features_required(current: Contract, settings: Settings) -> Contract:
    """The contract the gate applies: as written, except that when the model takes its features
    as they are (model.preprocessing = "none" in the settings, or in the production model's
    version, which predicts the rows this tick lets in), a missing feature value is structural,
    whatever the file says: the row is quarantined as missing_value rather than reaching the
    estimator as NaN; and a file without the column is missing a required one.

    data.timestamp_column, when the contract (written before the setting) does not name it,
    is checked as an event time all the same (a required `timestamp` rule).

    Only the gate's copy changes; the file, and the version recorded from its text, do not.
    """
    import dataclasses

    current = _with_timestamp(current, settings["data.timestamp_column"])
    wanted = _unimputed(settings, current)
    if not wanted:
        return current
    columns = {
        name: dataclasses.replace(rule, required=True, nullable=False, max_missing_share=0.0)
        if name in wanted and rule.kind not in ("id", "label")
        else rule
        for name, rule in current.columns.items()
    }
    return dataclasses.replace(current, columns=columns)


def _with_timestamp(current: Contract, stamp: str) -> Contract:
    """The contract with a required `timestamp` rule for `stamp` if it has none for it."""
    import dataclasses

    if not stamp or (stamp in current.columns and current.columns[stamp].kind == "timestamp"):
        return current
    columns = {n: r for n, r in current.columns.items() if n != stamp}
    columns[stamp] = contracts.ColumnRule(stamp, "timestamp")
    return dataclasses.replace(current, columns=columns)


def learn_labels(settings: Settings, current: Contract, seen: frozenset[Any]) -> Contract | None:
    """A classification contract inferred from unlabelled data has no label set; once a file
    brings labels (`seen`), write the set they imply into paths.contract (one line added to
    [contract], the rest of the text as it is: a new contract version, which the run records)
    and return the contract read back. None when there is nothing to learn."""
    from pipeline.ingest.contract_infer import labels_implied
    from pipeline.ingest.contract_toml import toml_value

    if settings["model.task"] != "classification" or current.label_values is not None or not seen:
        return None
    path = settings.path("paths.contract")
    text = path.read_text(encoding="utf-8")
    line = f"label_values = {toml_value(list(labels_implied(frozenset(seen))))}"
    head = text.find("[contract]")
    end = text.find("\n[", head + 1)
    end = len(text) if end < 0 else end
    body = text[:end].rstrip("\n") + "\n" + line + "\n"
    new = contracts.from_toml(body + text[end:], str(path))
    contracts.save(new, path)
    return new


def _unimputed(settings: Settings, current: Contract) -> set[str]:
    """The features that a model imputing nothing takes: the next one trained, when the
    settings say "none", and the production model, when its version says so."""
    wanted: set[str] = set()
    if settings["model.preprocessing"] == "none" and not settings["model.pipeline"]:
        wanted.update(settings["data.features"] or current.features)
    from pipeline.model import registry

    version = registry.production_version(settings)
    meta = None if version is None else registry.metadata(settings, version)
    if meta is not None and meta.get("preprocessing") == "none":
        wanted.update(meta["features"]["numeric"])
    return wanted


def labels_as_found(frame: pd.DataFrame, contract: Contract) -> Contract:
    """A contract with no label set yet (inferred from data without labels), for a file that
    brings labels: when they are text ("yes", "no"), the file is checked with the labels it
    holds as the set (what a number-only check would refuse as wrong_type); the run then
    learns the set from its good rows (`contract_tools.learn_labels`). Numbers: as it is."""
    from dataclasses import replace

    import pandas as pd

    if contract.label_values is not None or contract.target not in frame.columns:
        return contract
    present = frame[contract.target].dropna()
    if pd.api.types.is_numeric_dtype(present) or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    ):
        return contract
    found = sorted({v.strip() if isinstance(v, str) else str(v) for v in present} - {""})
    return replace(contract, label_values=tuple(found)) if found else contract
