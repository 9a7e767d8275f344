"""One tool validates one file against the contract's checks: run as its own process, per tool.

    python bench/quality_tools.py TOOL DATA.csv CONTRACT.toml OUT.json

TOOL: riskwatch, great_expectations or pandera.

riskwatch runs in the project's environment, Great Expectations and pandera in
bench/.venv-competitors; bench_quality.py starts each and times the whole process from outside.

Every tool reads the file the same way (`quality_data.read`: pandas.read_csv, the id and the
categorical columns as text, as riskwatch's reader does) and checks the same list of checks,
`planned_checks`, derived from the same contract.toml: riskwatch through `check_frame`, Great
Expectations as one ExpectationSuite, pandera as one DataFrameSchema (lazy, so it collects every
failure as riskwatch does). The findings are told in riskwatch's error-type names, one count per
(check, column), so bench_quality.py can print the three side by side.

Phases are timed inside the process (import, read, set-up, the validation call alone, the
summary of its findings). Memory: VmRSS after the import and after the read; the peak so far
(VmHWM) just before the validation call; then the peak is reset (`/proc/self/clear_refs`) so the
VmHWM after the call is the validation's own peak. The reset also lowers the ru_maxrss the
parent reads from wait4, so the process's peak is the larger of that and the peak before.
"""

from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

TOOLS = ("riskwatch", "great_expectations", "pandera")
HEADER = "(header)"
ROW = "(row)"


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss() -> int:
    return _proc_status("VmRSS")


def peak() -> int:
    return _proc_status("VmHWM")


def reset_peak() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def load_contract(path: Path) -> dict:
    """The contract as plain data (tomllib: the competitors' environment has no riskwatch)."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    return {"contract": doc["contract"], "columns": doc["columns"]}


def planned_checks(contract: dict) -> list[tuple[str, str]]:
    """(check, column) for every check the contract asks for: what each tool is made to check.

    The same list riskwatch's check_frame runs for this contract (its infinite_value check is
    counted under out_of_range: the other tools find an infinity as a value outside the range).
    """
    head, columns = contract["contract"], contract["columns"]
    out: list[tuple[str, str]] = [("columns", HEADER)]
    for name, rule in columns.items():
        kind = rule["kind"]
        required = not rule.get("nullable", False)
        if kind == "id":
            out.append(("missing_value", name))
            if head.get("unique_ids", True):
                out.append(("duplicate_id", name))
        elif kind in ("numeric", "integer"):
            out.append(("wrong_type", name))
            if required:
                out.append(("missing_value", name))
            out.append(("out_of_range", name))
        elif kind == "categorical":
            if required:
                out.append(("missing_value", name))
            out.append(("unknown_category", name))
        elif kind == "label":
            out.append(("wrong_type", name))
            out.append(("invalid_label", name))
    out.append(("duplicate_row", ROW))
    return out


# --- riskwatch ------------------------------------------------------------------------------


def riskwatch_setup(contract_path: Path, contract: dict):
    from pipeline.ingest.contract import from_toml

    return from_toml(contract_path.read_text(encoding="utf-8"), str(contract_path))


def riskwatch_validate(frame, rw_contract):
    from pipeline.ingest.checks import check_frame

    result = check_frame(frame, rw_contract)
    # What the run reads off the result: the counts it stores and the row split it makes.
    _ = result.errors_by_type, result.rows_invalid
    return result


def riskwatch_findings(result, contract: dict) -> tuple[dict, int | None]:
    from pipeline.vocabulary import FILE_LEVEL

    found: dict[tuple[str, str], int] = {}
    for v in result.violations:
        if v.error_type in FILE_LEVEL:
            key = ("columns", HEADER)
        elif v.error_type == "infinite_value":
            key = ("out_of_range", v.column)
        elif v.error_type == "duplicate_row":
            key = ("duplicate_row", ROW)
        else:
            key = (v.error_type, v.column)
        found[key] = found.get(key, 0) + v.count
    return found, result.rows_invalid


# --- Great Expectations ---------------------------------------------------------------------

NUMERIC_TYPES = ["int64", "float64", "Int64", "Float64"]
INTEGER_TYPES = ["int64", "Int64"]


def ge_setup(contract_path: Path, contract: dict):
    """An ephemeral context, a pandas data source, the whole frame as one batch, and a suite."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    E = gx.expectations
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no bars on stderr
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("incoming")
        .add_batch_definition_whole_dataframe("whole file")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="contract"))
    head, columns = contract["contract"], contract["columns"]
    for check, column in planned_checks(contract):
        rule = columns.get(column, {})
        if check == "columns":
            exp = [E.ExpectTableColumnsToMatchSet(column_set=list(columns), exact_match=True)]
        elif check == "wrong_type":
            integer = rule["kind"] in ("integer", "label")
            types = INTEGER_TYPES if integer else NUMERIC_TYPES
            exp = [E.ExpectColumnValuesToBeInTypeList(column=column, type_list=types)]
        elif check == "missing_value":
            exp = [E.ExpectColumnValuesToNotBeNull(column=column)]
        elif check == "out_of_range":
            exp = [
                E.ExpectColumnValuesToBeBetween(
                    column=column, min_value=rule.get("min"), max_value=rule.get("max")
                )
            ]
        elif check == "unknown_category":
            exp = [E.ExpectColumnValuesToBeInSet(column=column, value_set=rule["categories"])]
        elif check == "invalid_label":  # riskwatch: a missing label is an invalid one
            exp = [
                E.ExpectColumnValuesToNotBeNull(column=column),
                E.ExpectColumnValuesToBeInSet(column=column, value_set=head["label_values"]),
            ]
        elif check == "duplicate_id":
            exp = [E.ExpectColumnValuesToBeUnique(column=column)]
        elif check == "duplicate_row":
            exp = [
                E.ExpectCompoundColumnsToBeUnique(column_list=list(columns), ignore_row_if="never")
            ]
        else:
            raise AssertionError(check)
        for e in exp:
            e.meta = {"check": check, "column": column}
            suite.add_expectation(e)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="incoming file", data=batch, suite=suite)
    )
    return definition


def ge_validate(frame, definition):
    return definition.run(batch_parameters={"dataframe": frame})  # result_format: SUMMARY


def _raised(info: dict | None) -> bool:
    """Whether an expectation raised: GE 1.x keeps it at the top or per metric."""
    if not info:
        return False
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def ge_findings(result, contract: dict) -> tuple[dict, int | None]:
    """unexpected_count per expectation; 'column' when it failed the column as a whole (a dtype
    check on a text column), 'error' when the expectation raised (a range check on text)."""
    found: dict[tuple[str, str], int | str] = {}
    for r in result.results:
        meta = r.expectation_config.meta or {}
        key = (meta["check"], meta["column"])
        if r.success:
            value: int | str = 0
        elif _raised(r.exception_info):
            value = "error"
        elif "unexpected_count" in (r.result or {}):
            value = int(r.result["unexpected_count"])
        else:
            value = "column"
        before = found.get(key, 0)
        if isinstance(before, int) and isinstance(value, int):
            found[key] = before + value
        elif value != 0:
            found[key] = value
    return found, None  # SUMMARY gives counts and examples, not every failing row


# --- pandera --------------------------------------------------------------------------------


def pandera_setup(contract_path: Path, contract: dict):
    import pandera.pandas as pa

    head, columns = contract["contract"], contract["columns"]
    schema_columns = {}
    for name, rule in columns.items():
        kind = rule["kind"]
        nullable = bool(rule.get("nullable", False))
        if kind == "id":
            schema_columns[name] = pa.Column(
                str,
                nullable=False,
                unique=bool(head.get("unique_ids", True)),
                report_duplicates="exclude_first",
            )
        elif kind in ("numeric", "integer"):
            dtype = "float64" if kind == "numeric" else ("Int64" if nullable else "int64")
            schema_columns[name] = pa.Column(
                dtype,
                pa.Check.in_range(rule.get("min"), rule.get("max")),
                nullable=nullable,
                coerce=True,
            )
        elif kind == "categorical":
            schema_columns[name] = pa.Column(
                str, pa.Check.isin(rule["categories"]), nullable=nullable
            )
        elif kind == "label":
            schema_columns[name] = pa.Column(
                "int64", pa.Check.isin(head["label_values"]), nullable=False, coerce=True
            )
    return pa.DataFrameSchema(
        schema_columns,
        strict=True,  # an extra column fails, a missing one too (required by default)
        unique=list(columns),  # an exact copy of an earlier row
        report_duplicates="exclude_first",
    )


def pandera_validate(frame, schema):
    import pandera.pandas as pa

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None


def pandera_findings(failure_cases, contract: dict) -> tuple[dict, int | None]:
    """Distinct failing rows per (check, column); 'column' for a failure without a row."""
    if failure_cases is None:
        return {}, 0
    target = contract["contract"]["target"]
    found: dict[tuple[str, str], int | str] = {}
    rows: dict[tuple[str, str], set] = {}
    for context, column, check, index in zip(
        failure_cases["schema_context"],
        failure_cases["column"],
        failure_cases["check"],
        failure_cases["index"],
        strict=True,
    ):
        check = str(check)
        if check in ("column_in_schema", "column_in_dataframe"):
            key = ("columns", HEADER)
        elif check == "not_nullable":
            key = ("invalid_label" if column == target else "missing_value", column)
        elif check.startswith(("coerce_dtype", "dtype")):
            key = ("wrong_type", column)
        elif check.startswith("in_range"):
            key = ("out_of_range", column)
        elif check.startswith("isin"):
            key = ("invalid_label" if column == target else "unknown_category", column)
        elif check == "field_uniqueness":
            key = ("duplicate_id", column)
        elif context == "DataFrameSchema" and "uniqueness" in check:
            key = ("duplicate_row", ROW)
        else:
            key = (check, str(column))
        if index is None or index != index:  # no row: the column or the frame failed
            found[key] = "column"
        else:
            rows.setdefault(key, set()).add(index)
    for key, idx in rows.items():
        if found.get(key) != "column":
            found[key] = len(idx)
    all_rows = {i for idx in rows.values() for i in idx}
    return found, len(all_rows)


# --- the child ------------------------------------------------------------------------------

STEPS = {
    "riskwatch": (riskwatch_setup, riskwatch_validate, riskwatch_findings),
    "great_expectations": (ge_setup, ge_validate, ge_findings),
    "pandera": (pandera_setup, pandera_validate, pandera_findings),
}


def version(tool: str) -> str:
    from importlib import metadata

    if tool == "riskwatch":
        import hashlib

        import pipeline.ingest.checks

        source = Path(pipeline.ingest.checks.__file__)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        return f"{metadata.version('riskwatch')} (engine {source.parent}, quality.py {digest})"
    return metadata.version(tool)


def main(tool: str, data: Path, contract_path: Path, out: Path) -> None:
    t0 = time.perf_counter()
    import pandas as pd

    if tool == "great_expectations":
        import great_expectations  # noqa: F401  (its import is part of its cost)
    elif tool == "pandera":
        import pandera.pandas  # noqa: F401
    else:
        import pipeline.ingest.checks  # noqa: F401
    from quality_data import read

    t_import = time.perf_counter()
    rss_import = rss()
    frame = read(data)
    t_read = time.perf_counter()
    rss_read = rss()

    setup, validate, findings = STEPS[tool]
    contract = load_contract(contract_path)
    prepared = setup(contract_path, contract)
    t_setup = time.perf_counter()

    peak_before = peak()
    can_reset = reset_peak()
    rss_before = rss()
    t_validate, cpu_validate = time.perf_counter(), time.process_time()
    result = validate(frame, prepared)
    t_validated, cpu_validated = time.perf_counter(), time.process_time()
    peak_validate = peak() if can_reset else None
    rss_after = rss()

    found, rows_invalid = findings(result, contract)
    t_done = time.perf_counter()
    frame_bytes = int(frame.memory_usage(deep=True).sum())  # after the clocks
    doc = {
        "tool": tool,
        "version": version(tool),
        "pandas": pd.__version__,
        "rows": len(frame),
        "columns": len(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "frame_bytes": frame_bytes,
        "import_s": t_import - t0,
        "read_s": t_read - t_import,
        "setup_s": t_setup - t_read,
        "validate_s": t_validated - t_validate,
        "validate_cpu_s": cpu_validated - cpu_validate,  # work, as against waiting for a CPU
        "findings_s": t_done - t_validated,
        "rss_after_import_bytes": rss_import,
        "rss_after_read_bytes": rss_read,
        "peak_before_validate_bytes": peak_before,
        "rss_before_validate_bytes": rss_before,
        "peak_validate_bytes": peak_validate,
        "rss_after_validate_bytes": rss_after,
        "checks": len(planned_checks(contract)),
        "findings": [[check, column, count] for (check, column), count in found.items()],
        "rows_invalid": rows_invalid,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in TOOLS:
        raise SystemExit("usage:" + __doc__.split("\n\n")[1])
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
