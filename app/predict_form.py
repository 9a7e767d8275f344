"""The fields of the predict page's form, made from the production model's features and the
data contract it was trained under (issue 13): a number input per numeric feature (whole
numbers for the contract's integer columns; its learned range as the hint, and as the input's
min and max only where the contract enforces it; its sign always), per categorical feature a
choice of the contract's categories where it enforces them, else a text input offering them (a
datalist: the API takes another, which a run flags and keeps), and a text input per id column
(optional: it gives the prediction the row key a later label joins on).

Pure: the contract comes as its TOML text (pipeline.storage.page_reads.contract_text).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.model.features import FeatureSpec, imputes


@dataclass(frozen=True)
class Field:
    """One input of the form; `kind`: number, choice (a select of `choices`), suggest (a text
    input offering `choices`, another typeable) or text (an id column, or a categorical one the
    contract lists no categories for)."""

    name: str
    kind: str
    required: bool
    step: str = "any"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    hint: str = ""


def contract_columns(text: str | None) -> dict[str, Mapping[str, Any]]:
    """The contract's `[columns.*]` tables; {} without a contract or with one unreadable (the
    form is then made from the features alone)."""
    if not text:
        return {}
    try:
        columns = tomllib.loads(text).get("columns", {})
    except tomllib.TOMLDecodeError:
        return {}
    return {k: v for k, v in columns.items() if isinstance(v, dict)}


def optional_features(features: FeatureSpec, text: str | None) -> frozenset[str]:
    """The features a record may leave out, as a file may: those the contract (TOML `text`)
    says are not required (required = false), of a model that imputes (one that takes its
    features as they are needs every value, so a record must hold each)."""
    if not imputes(features):
        return frozenset()
    rules = contract_columns(text)
    return frozenset(c for c in features.columns if rules.get(c, {}).get("required") is False)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _range_hint(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"training range {low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g} in training"
    if high is not None:
        return f"at most {high:g} in training"
    return ""


def enforced(rule: Mapping[str, Any]) -> bool:
    """Whether the rule's learned range (or category list) quarantines a row that breaks it:
    as pipeline.ingest.contract_toml reads it, true without an `enforce` key (a rule a person
    wrote), false where inference wrote `enforce = false`."""
    return rule.get("enforce", True) is True


def _numeric(name: str, rule: Mapping[str, Any], required: bool) -> Field:
    learned_low, learned_high = _number(rule.get("min")), _number(rule.get("max"))
    hint = _range_hint(learned_low, learned_high)
    # The bounds the input refuses to pass: the learned range only where the contract
    # enforces it (elsewhere a value outside it is flagged by a run and accepted by the API:
    # a hint), and the sign, a structural rule, always.
    low, high = (learned_low, learned_high) if enforced(rule) else (None, None)
    if hint and not enforced(rule):
        hint += ", not enforced"
    if rule.get("sign") == "non-negative":
        low = 0.0 if low is None else max(low, 0.0)
    if rule.get("sign") == "non-positive":
        high = 0.0 if high is None else min(high, 0.0)
    if not hint:
        sign = str(rule.get("sign"))
        hint = {"non-negative": "not negative", "non-positive": "not positive"}.get(sign, "")
    integer = rule.get("kind") == "integer"
    if integer:
        hint = f"a whole number; {hint}" if hint else "a whole number"
    return Field(name, "number", required, "1" if integer else "any", low, high, hint=hint)


def _categorical(name: str, rule: Mapping[str, Any], required: bool) -> Field:
    listed = rule.get("categories")
    if not isinstance(listed, list) or not listed:
        return Field(name, "text", required, hint="a category (the contract lists none)")
    choices = tuple(str(c) for c in listed)
    if enforced(rule):
        return Field(name, "choice", required, choices=choices, hint=f"one of {len(choices)}")
    # Not enforced: a run flags a category it has not seen and keeps the row, and the API
    # predicts it, so the form offers the known ones and takes another.
    hint = f"{len(choices)} known, not enforced: another may be typed"
    return Field(name, "suggest", required, choices=choices, hint=hint)


def form_fields(
    features: FeatureSpec, contract_text: str | None, id_columns: Sequence[str] = ()
) -> list[Field]:
    """The form's fields: the id columns first, then the features in the model's order."""
    rules = contract_columns(contract_text)
    # A value is required where the contract says it never lacks one, and always for a model
    # that takes its features as they are (nothing imputes: records_frame refuses a null).
    takes_null = features.preprocessing != "none"
    ids = [n for n in id_columns if n not in features.columns]
    out = [Field(name, "text", False, hint="optional: the row's id") for name in ids]
    for name in features.columns:
        rule = rules.get(name, {})
        required = not takes_null or rule.get("nullable") is False
        if name in features.numeric:
            out.append(_numeric(name, rule, required))
        else:
            out.append(_categorical(name, rule, required))
    return out
