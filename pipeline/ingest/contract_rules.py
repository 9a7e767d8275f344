"""The data contract's rules: what every incoming file must hold, inferred from training data.

Pure computation, no I/O: the rules as data (`Contract`, `ColumnRule`), inferred from a frame,
written as and parsed from TOML text. Its version is the SHA-256 of that text, so any edit is a
new, recorded contract version. The checks import this; the file itself is `contract`'s.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import RiskwatchError
from pipeline.settings.table import default

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("numeric", "integer", "categorical", "id", "label")
Label = str | int | float  # a class label as TOML writes it (bool is an int)


class ContractError(RiskwatchError):
    """The contract file is missing, not TOML, or holds a wrong key or value."""

    exit_code = 2


@dataclass(frozen=True)
class ColumnRule:
    name: str
    kind: str  # numeric, integer, categorical, id, label (and "row" for whole-row checks)
    required: bool = True
    nullable: bool = False  # may a row lack a value here
    max_missing_share: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Contract:
    target: str
    id_columns: tuple[str, ...]
    unique_ids: bool
    label_values: tuple[Label, ...] | None  # None: any value (regression)
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    text: str = ""  # the TOML it was read from or written as

    @property
    def version(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def numeric_label(self) -> bool:
        return self.label_values is None or all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.label_values
        )

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.kind not in ("id", "label")]


def infer(
    frame: pd.DataFrame,
    *,
    target: str,
    id_columns: Sequence[str],
    features: Sequence[str],
    categorical: Sequence[str],
    task: str,
    range_margin: float = default("quality.range_margin"),
    missing_margin: float = default("quality.missing_margin"),
) -> Contract:
    """Derive a contract from training data: types, ranges widened by a margin, categories."""
    import pandas as pd

    rules: dict[str, ColumnRule] = {}
    for col in id_columns:
        rules[col] = ColumnRule(col, "id")
    cats = set(categorical)
    for col in features:
        s = frame[col]
        share = float(s.isna().mean()) if len(s) else 0.0
        nullable = share > 0
        max_missing = min(1.0, round(share + missing_margin, 4)) if nullable else 0.0
        if col in cats or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            values = sorted({str(v) for v in s.dropna().tolist()})
            rules[col] = ColumnRule(
                col, "categorical", True, nullable, max_missing, categories=tuple(values)
            )
            continue
        finite = pd.to_numeric(s, errors="coerce")
        finite = finite[finite.notna() & (finite.abs() != float("inf"))]
        integer = bool(len(finite)) and bool((finite == finite.round()).all())
        lo = float(finite.min()) if len(finite) else None
        hi = float(finite.max()) if len(finite) else None
        if lo is not None and hi is not None:
            pad = (hi - lo) * range_margin or abs(hi) * range_margin or range_margin
            new_lo, new_hi = lo - pad, hi + pad
            if lo >= 0:  # never seen negative: a negative value is impossible, not a shift
                new_lo = max(0.0, new_lo)
            if integer:
                new_lo, new_hi = math.floor(new_lo), math.ceil(new_hi)
            lo, hi = _round(new_lo), _round(new_hi)
        rules[col] = ColumnRule(
            col, "integer" if integer else "numeric", True, nullable, max_missing, lo, hi
        )
    label_values = None
    if task == "classification":
        label_values = tuple(sorted(_plain(v) for v in frame[target].dropna().unique().tolist()))
    rules[target] = ColumnRule(target, "label")
    contract = Contract(target, tuple(id_columns), bool(id_columns), label_values, rules)
    return Contract(
        contract.target,
        contract.id_columns,
        contract.unique_ids,
        contract.label_values,
        rules,
        to_toml(contract),
    )


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _plain(v: Any) -> Any:  # a value of a pandas column: a numpy scalar or a Python one
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v.item() if hasattr(v, "item") else v


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name, ensure_ascii=False)


def to_toml(contract: Contract) -> str:
    lines = [
        "# riskwatch data contract: what every incoming file must hold.",
        "# Inferred from training data by `riskwatch contract infer`; review and edit it in git.",
        "# Any change is a new contract version (the SHA-256 of this text), recorded by the run.",
        "# kind: numeric | integer | categorical | id | label. nullable: a row may lack a value.",
        "# min/max: values outside are out_of_range; categories: others are unknown_category.",
        "",
        "[contract]",
        f"target = {_toml_value(contract.target)}",
        f"id_columns = {_toml_value(list(contract.id_columns))}",
        f"unique_ids = {_toml_value(contract.unique_ids)}",
    ]
    if contract.label_values is not None:
        lines.append(f"label_values = {_toml_value(list(contract.label_values))}")
    for rule in contract.columns.values():
        lines += ["", f"[columns.{_key(rule.name)}]", f"kind = {_toml_value(rule.kind)}"]
        if not rule.required:
            lines.append("required = false")
        if rule.kind in ("numeric", "integer", "categorical"):
            lines.append(f"nullable = {_toml_value(rule.nullable)}")
            if rule.nullable:
                lines.append(f"max_missing_share = {_toml_value(rule.max_missing_share)}")
        if rule.min is not None:
            lines.append(f"min = {_toml_value(rule.min)}")
        if rule.max is not None:
            lines.append(f"max = {_toml_value(rule.max)}")
        if rule.categories is not None:
            lines.append(f"categories = {_toml_value(list(rule.categories))}")
    return "\n".join(lines) + "\n"


_COLUMN_KEYS = {"kind", "required", "nullable", "max_missing_share", "min", "max", "categories"}


def from_toml(text: str, origin: str = "contract") -> Contract:
    """Parse and validate a contract; ContractError names the file and the key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(f"{origin}: not valid TOML: {exc}") from exc
    head, ids, labels = _head(doc, origin)
    columns = doc.get("columns", {})
    if not isinstance(columns, dict) or not columns:
        raise ContractError(f"{origin}: at least one [columns.NAME] table is required")
    rules = {
        name: _column_rule(name, body, f"{origin}: columns.{name}")
        for name, body in columns.items()
    }
    target = head["target"]
    if target not in rules or rules[target].kind != "label":
        raise ContractError(
            f"{origin}: the target {target!r} needs [columns.{target}] kind 'label'"
        )
    for col in ids:
        if col not in rules:
            raise ContractError(f"{origin}: id column {col!r} needs a [columns.{col}] table")
    return Contract(
        target,
        tuple(ids),
        bool(head.get("unique_ids", bool(ids))),
        None if labels is None else tuple(labels),
        rules,
        text,
    )


def _head(doc: dict[str, Any], origin: str) -> tuple[dict[str, Any], list[str], list[Any] | None]:
    """The [contract] table, its id columns and its label values, checked."""
    head = doc.get("contract")
    if not isinstance(head, dict) or not isinstance(head.get("target"), str):
        raise ContractError(f"{origin}: [contract] with a 'target' string is required")
    unknown = set(doc) - {"contract", "columns"}
    if unknown:
        raise ContractError(f"{origin}: unknown table(s) {sorted(unknown)}")
    ids = head.get("id_columns", [])
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise ContractError(f"{origin}: 'contract.id_columns' must be a list of column names")
    labels = head.get("label_values")
    if labels is not None and not isinstance(labels, list):
        raise ContractError(f"{origin}: 'contract.label_values' must be a list")
    return head, ids, labels


def _column_rule(name: str, body: object, where: str) -> ColumnRule:
    """One [columns.NAME] table as a rule; ContractError names the key that is wrong."""
    if not isinstance(body, dict):
        raise ContractError(f"{where} must be a table")
    extra = set(body) - _COLUMN_KEYS
    if extra:
        raise ContractError(f"{where}: unknown key(s) {sorted(extra)}")
    kind = body.get("kind")
    if kind not in KINDS:
        raise ContractError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    for key in ("required", "nullable"):
        if key in body and not isinstance(body[key], bool):
            raise ContractError(f"{where}.{key}: expected true or false")
    for key in ("min", "max", "max_missing_share"):
        v = body.get(key)
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
        ):
            raise ContractError(f"{where}.{key}: expected a finite number, got {v!r}")
    if body.get("min") is not None and body.get("max") is not None and body["min"] > body["max"]:
        raise ContractError(f"{where}: min {body['min']} is above max {body['max']}")
    cats = body.get("categories")
    if cats is not None and (
        not isinstance(cats, list) or not all(isinstance(c, str) for c in cats)
    ):
        raise ContractError(f"{where}.categories: expected a list of strings")
    return ColumnRule(
        name,
        kind,
        body.get("required", True),
        body.get("nullable", False),
        # nullable without a stated share: any share of missing values is fine
        float(body.get("max_missing_share", 1.0 if body.get("nullable") else 0.0)),
        body.get("min"),
        body.get("max"),
        None if cats is None else tuple(cats),
    )
