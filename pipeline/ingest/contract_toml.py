"""The data contract as TOML text: written for review in git, parsed and checked key by key.

Pure computation, no I/O. A column table without an `enforce` key is enforced (a rule a person
wrote quarantines rows, as it always did); inference writes `enforce = false` on every learned
rule, so that its guesses flag rows rather than lose them.
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

from pipeline.ingest.contract_rules import KINDS, SIGNS, ColumnRule, Contract, ContractError

HEADER = """\
# riskwatch data contract: what every incoming file must hold.
# Inferred from training data by riskwatch; review and edit it in git. Any change is a new
# contract version (the SHA-256 of this text), recorded by the next run.
#
# Structural rules quarantine a row: kind (numeric | integer | categorical | id | label |
# timestamp: the value's type, whole numbers for integer, an ISO 8601 time for the event time
# of data.timestamp_column), sign ("non-negative" or "non-positive": a sign the
# training data never crossed), nullable = false (a value is required), label_values, and
# infinite values. Inference makes a column non-nullable, integer or signed only when the
# training data had enough rows to say so.
# Learned rules describe the training sample: min/max (out_of_range), categories
# (unknown_category), max_missing_share (missing_value, for the whole file). With
# `enforce = false` a row that breaks them is counted, reported and alerted, and kept; with
# `enforce = true` (or no enforce key, as in a rule written by hand) it is quarantined.
# `riskwatch contract enforce COLUMN...` (or --all) sets enforce = true.
# A classification contract inferred from unlabelled data has no label_values yet: the run
# adds them from the first file that brings labels."""


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name, ensure_ascii=False)


def to_toml(contract: Contract) -> str:
    """The contract's text: a commented header, [contract], then one table per column."""
    lines = [
        HEADER,
        "",
        "[contract]",
        f"target = {toml_value(contract.target)}",
        f"id_columns = {toml_value(list(contract.id_columns))}",
        f"unique_ids = {toml_value(contract.unique_ids)}",
    ]
    if contract.label_values is not None:
        lines.append(f"label_values = {toml_value(list(contract.label_values))}")
    for rule in contract.columns.values():
        lines += ["", f"[columns.{_key(rule.name)}]", *_rule_lines(rule)]
    return "\n".join(lines) + "\n"


def _rule_lines(rule: ColumnRule) -> list[str]:
    lines = [f"kind = {toml_value(rule.kind)}"]
    if not rule.required:
        lines.append("required = false")
    if rule.kind in ("numeric", "integer", "categorical"):
        lines.append(f"nullable = {toml_value(rule.nullable)}")
        if rule.nullable:
            lines.append(f"max_missing_share = {toml_value(rule.max_missing_share)}")
    if rule.sign is not None:
        lines.append(f"sign = {toml_value(rule.sign)}")
    if rule.min is not None:
        lines.append(f"min = {toml_value(rule.min)}")
    if rule.max is not None:
        lines.append(f"max = {toml_value(rule.max)}")
    if rule.categories is not None:
        lines.append(f"categories = {toml_value(list(rule.categories))}")
    if rule.learned:
        lines.append(f"enforce = {toml_value(rule.enforce)}")
    return lines


_COLUMN_KEYS = {
    "kind",
    "required",
    "nullable",
    "max_missing_share",
    "min",
    "max",
    "categories",
    "sign",
    "enforce",
}


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
    for key in ("required", "nullable", "enforce"):
        if key in body and not isinstance(body[key], bool):
            raise ContractError(f"{where}.{key}: expected true or false, got {body[key]!r}")
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
    _check_sign(body, kind, where)
    if "enforce" in body and kind not in ("numeric", "integer", "categorical"):
        raise ContractError(
            f"{where}.enforce: only numeric, integer and categorical columns have learned "
            f"rules to enforce, not kind {kind!r}"
        )
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
        body.get("sign"),
        body.get("enforce", True),  # a rule written by hand, without the key, is enforced
    )


def _check_sign(body: dict[str, Any], kind: str, where: str) -> None:
    sign = body.get("sign")
    if sign is None:
        return
    if kind not in ("numeric", "integer"):
        raise ContractError(f"{where}.sign: only numeric and integer columns have a sign")
    if sign not in SIGNS:
        raise ContractError(f"{where}.sign: expected one of {', '.join(SIGNS)}, got {sign!r}")
    lo, hi = body.get("min"), body.get("max")
    if (sign == "non-negative" and hi is not None and hi < 0) or (
        sign == "non-positive" and lo is not None and lo > 0
    ):
        raise ContractError(
            f"{where}: sign {sign!r} leaves no value in [{lo}, {hi}] (min/max contradict it)"
        )


def enforced(contract: Contract, columns: list[str] | None, origin: str = "contract") -> Contract:
    """The contract with `enforce = true` on these columns' learned rules (None: every column
    that has one). The text is edited in place, so a person's comments and order stay."""
    learned = [r.name for r in contract.columns.values() if r.learned]
    names = learned if columns is None else list(dict.fromkeys(columns))
    for name in names:
        if name not in contract.columns:
            raise ContractError(f"{origin}: no column {name!r} in the contract")
        if not contract.columns[name].learned:
            raise ContractError(
                f"{origin}: column {name!r} has no learned rule (min, max or categories) to enforce"
            )
    text = _set_enforce(contract.text, set(names))
    out = from_toml(text, origin)
    wrong = [n for n in names if not out.columns[n].enforce]
    if wrong:  # a table the line editor could not find (e.g. an inline table)
        raise ContractError(f"{origin}: could not set enforce = true on {wrong}; edit it by hand")
    return out


def _set_enforce(text: str, names: set[str]) -> str:
    """`enforce = true` in the [columns.NAME] table of each name, replacing an enforce line."""
    lines = text.splitlines()
    out: list[str] = []
    current: str | None = None  # the column whose table the lines belong to, if one of `names`
    seen = False

    def close() -> None:
        if current is not None and not seen:
            at = len(out)
            while at and not out[at - 1].strip():
                at -= 1
            out.insert(at, "enforce = true")

    for line in lines:
        header = _table_name(line)
        if header is not None:
            close()
            current = header if header in names else None
            seen = False
        elif current is not None and line.split("=", 1)[0].strip() == "enforce":
            line, seen = "enforce = true", True
        out.append(line)
    close()
    return "\n".join(out) + "\n"


def _table_name(line: str) -> str | None:
    """The column a `[columns.NAME]` header line opens; '' for another table; None otherwise."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    try:
        doc = tomllib.loads(stripped + "\n")
    except tomllib.TOMLDecodeError:
        return None
    columns = doc.get("columns")
    if len(doc) == 1 and isinstance(columns, dict) and len(columns) == 1:
        return str(next(iter(columns)))
    return ""
