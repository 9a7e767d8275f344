"""Model artifacts: the bytes checked are the bytes loaded, and a pickle runs no code of its own.

`registry.load` reads an artifact once, checks its SHA-256 and unpickles those same bytes, so a
file swapped between the check and the load is never executed (issue 11). The unpickler
(`pipeline.model.safe_pickle`) admits the classes fitted models are made of and refuses any
other global (os.system, builtins.eval, joblib.Memory, numpy.memmap) before importing it.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from pipeline.errors import ModelIntegrityError
from pipeline.model import registry, safe_pickle
from pipeline.storage import db, tables
from tests.conftest import copy_project
from tests.e2e import invoke

FRAME = pd.DataFrame(
    {
        "a": np.linspace(0.0, 1.0, 60),
        "b": np.cos(np.arange(60.0)),
        "c": list("xyz") * 20,
    }
)
LABELS = (FRAME["a"] > 0.5).astype(int)


def _encoded() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("n", StandardScaler(), ["a", "b"]),
            ("c", OneHotEncoder(handle_unknown="ignore"), ["c"]),
        ]
    )


MODELS = {
    "logistic": lambda: make_pipeline(_encoded(), LogisticRegression()),
    "forest": lambda: make_pipeline(_encoded(), RandomForestClassifier(n_estimators=3)),
    "boosting": lambda: make_pipeline(_encoded(), HistGradientBoostingClassifier(max_iter=3)),
    "kbest-knn": lambda: make_pipeline(
        _encoded(), SelectKBest(f_classif, k=2), KNeighborsClassifier()
    ),
    "selector-svc": lambda: make_pipeline(
        ColumnTransformer([("n", StandardScaler(), make_column_selector(dtype_include="number"))]),
        LinearSVC(),
    ),
    "log1p-ridge": lambda: make_pipeline(
        ColumnTransformer([("n", FunctionTransformer(np.log1p), ["a"])]), Ridge()
    ),
}


def _dumped(obj: Any, compress: int = 0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=compress)
    return buffer.getvalue()


@pytest.mark.parametrize("compress", [0, 3], ids=["plain", "compressed"])
@pytest.mark.parametrize("name", list(MODELS))
def test_fitted_models_load_and_predict_as_they_did(name: str, compress: int) -> None:
    model = MODELS[name]().fit(FRAME, LABELS)
    loaded = safe_pickle.load(_dumped(model, compress))
    np.testing.assert_array_equal(loaded.predict(FRAME), model.predict(FRAME))


class _Calls:
    """A pickle whose loading calls `func(*args)`: what a forged artifact does."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _marker_payloads(marker: Path) -> dict[str, bytes]:
    command = f"touch {marker}"
    return {
        "os.system": pickle.dumps(_Calls(os.system, command)),
        "builtins.eval": pickle.dumps(_Calls(eval, f"open({str(marker)!r}, 'w')")),
        "builtins.exec": pickle.dumps(_Calls(exec, f"open({str(marker)!r}, 'w')")),
        "builtins.open": pickle.dumps(_Calls(open, str(marker), "w")),
        "builtins.getattr": pickle.dumps(_Calls(getattr, LogisticRegression, "fit")),
        "joblib.Memory": pickle.dumps(_Calls(joblib.Memory, str(marker))),
        "numpy.memmap": pickle.dumps(_Calls(np.memmap, str(marker), np.uint8, "w+", 0, (4,))),
        "subprocess (inside a model)": _dumped(
            {"model": LogisticRegression(), "hook": _Calls(os.system, command)}
        ),
        "protocol 0 GLOBAL": f"cos\nsystem\n(S'{command}'\ntR.".encode(),
    }


@pytest.mark.parametrize("kind", list(_marker_payloads(Path("/x"))))
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(
    kind: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = _marker_payloads(marker)[kind]
    with pytest.raises(safe_pickle.RefusedGlobal):
        safe_pickle.load(payload)
    assert not marker.exists()
    assert not (tmp_path / "joblib").exists()


def _global_call(module: str, name: str, *args: str) -> bytes:
    """A protocol-4 pickle that imports `module`/`name` (STACK_GLOBAL) and calls it with the
    string `args`: what an attacker writes by hand."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return b"X" + len(raw).to_bytes(4, "little") + raw

    body = text(module) + text(name) + b"\x93"
    body += b"(" + b"".join(text(a) for a in args) + b"tR"
    return b"\x80\x04" + body + b"."


def _chained_eval(marker: Path) -> bytes:
    """`get_scorer.__builtins__.get("eval")(code)`: a dotted name reaches the builtins dict."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return b"X" + len(raw).to_bytes(4, "little") + raw

    code = f"open({str(marker)!r}, 'w')"
    get = text("sklearn.metrics") + text("get_scorer.__builtins__.get") + b"\x93"
    evaluate = get + b"(" + text("eval") + b"tR"
    return b"\x80\x04" + evaluate + b"(" + text(code) + b"tR."


@pytest.mark.parametrize(
    "forged",
    [
        "dotted name to the builtins",
        "pandas' expression evaluator",
        "numpy's test runner",
        "pandas' Excel writer",
        "a trusted module's re-export of os.system",
    ],
)
def test_globals_that_reach_code_through_admitted_packages_are_refused(
    forged: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    trusted: tuple[str, ...] = ()
    if forged == "dotted name to the builtins":
        payload = _chained_eval(marker)
    elif forged == "pandas' expression evaluator":
        code = f"sys.modules.get('os').system('touch {marker}')"
        payload = _global_call("pandas.core.computation.expr", "Expr", code, "python", "pandas")
    elif forged == "numpy's test runner":
        payload = _global_call("numpy._pytesttester", "PytestTester", "numpy")
    elif forged == "pandas' Excel writer":
        payload = _global_call("pandas", "ExcelWriter", str(marker))
    else:
        (tmp_path / "mylib.py").write_text("from os import system\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        trusted = ("mylib",)
        payload = _global_call("mylib", "system", f"touch {marker}")
    with pytest.raises(safe_pickle.RefusedGlobal):
        safe_pickle.load(payload, trusted)
    assert not marker.exists()


def test_every_scikit_learn_classifier_and_regressor_loads() -> None:
    """Fitted with its defaults, every estimator scikit-learn lists pickles to what the
    unpickler admits: the allow-list leaves no default model out."""
    import warnings

    from sklearn.utils import all_estimators

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    targets = {"classifier": (x[:, 0] > 0.5).astype(int), "regressor": x[:, 1]}
    loaded, refused = 0, []
    for kind, y in targets.items():
        for name, cls in all_estimators(type_filter=kind):
            with warnings.catch_warnings():  # deprecated estimators warn when built or loaded
                warnings.simplefilter("ignore")
                try:
                    model = cls().fit(x, y)
                except Exception:  # needs arguments, or other data: not a default model
                    continue
                try:
                    safe_pickle.load(_dumped(model))
                    loaded += 1
                except safe_pickle.RefusedGlobal as exc:
                    refused.append(f"{name}: {exc}")
    assert not refused
    assert loaded > 60


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        # scipy.stats rebuilds a distribution with exec() over text from its state.
        ("scipy.stats distribution", lambda m: _scipy_exec(m)),
        # joblib's pre-0.10 wrapper reads the file it names and unpickles it unrestricted.
        ("joblib's old array wrapper", lambda m: _old_joblib_wrapper(m)),
        # scikit-learn's Parallel is joblib's, which starts processes.
        ("scikit-learn's Parallel", lambda m: _global_call("sklearn.utils.parallel", "Parallel")),
    ],
)
def test_admitted_packages_classes_that_run_code_on_load_are_refused(
    kind: str, make: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(safe_pickle.RefusedGlobal):
        safe_pickle.load(make(marker))
    assert not marker.exists()


def _scipy_exec(marker: Path) -> bytes:
    import copy

    import scipy.stats

    dist = copy.deepcopy(scipy.stats.norm)
    dist._parse_arg_template = (
        f"import os; os.system('touch {marker}')\n" + dist._parse_arg_template
    )
    return _dumped(dist)


def _old_joblib_wrapper(marker: Path) -> bytes:
    from joblib.numpy_pickle_compat import NDArrayWrapper

    payload = marker.with_name("payload.pkl")
    payload.write_bytes(pickle.dumps(_Calls(os.system, f"touch {marker}")))
    return pickle.dumps(NDArrayWrapper(str(payload), np.ndarray, allow_mmap=False), protocol=2)


def test_a_re_exported_class_is_judged_where_it_lives() -> None:
    """sklearn.utils.parallel imports joblib's Parallel machinery; naming joblib's classes
    through a scikit-learn module does not make them admissible."""
    forged = b"csklearn.utils.parallel\njoblib\n."  # the joblib module itself, by another name
    with pytest.raises(safe_pickle.RefusedGlobal):
        safe_pickle.load(forged)


def test_trusted_packages_are_admitted_whole() -> None:
    payload = pickle.dumps(_Calls(os.path.join, "a", "b"))
    with pytest.raises(safe_pickle.RefusedGlobal, match="join"):
        safe_pickle.load(payload)
    assert safe_pickle.load(payload, trusted=("posixpath", "ntpath")) == os.path.join("a", "b")


def test_the_trusted_packages_come_from_the_settings(project: Path) -> None:
    from pipeline.settings import load_settings

    toml = project / "riskwatch.toml"
    toml.write_text(
        toml.read_text() + '\n[registry]\ntrusted_modules = ["mylib"]\n'
        '\n[model]\npipeline = "pipeline.model.examples:scaled_forest"\n'
    )
    trusted = registry.trusted_modules(load_settings(toml, environ={}))
    assert trusted == ("mylib", "pipeline.model.examples")
    # A scikit-learn estimator trusts nothing beyond the classes: sklearn's functions stay out.
    plain = load_settings(project / "riskwatch.toml", environ={}, overrides={})
    assert "sklearn" not in registry.trusted_modules(plain)


# --- the registry: checked bytes are loaded bytes -------------------------------------------


@pytest.fixture
def live(built_project: Path, tmp_path: Path) -> Any:
    settings = copy_project(built_project, tmp_path / "p")
    engine = db.make_engine(settings.database_url)
    yield settings, engine
    engine.dispose()


def test_an_artifact_swapped_after_it_is_opened_is_never_loaded(
    live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap lands right after the first open of the artifact: a load that hashed one read
    and unpickled another (riskwatch before issue 11) would run the impostor."""
    settings, engine = live
    version = registry.production_version(settings)
    artifact = settings.path("paths.models") / str(version) / registry.ARTIFACT
    original = registry.load(engine, settings, version).model
    impostor = artifact.with_name("impostor.joblib")
    # Another valid model, of another kind: a load that ran it could not pass for the original.
    joblib.dump(RandomForestClassifier(n_estimators=2).fit(FRAME[["a", "b"]], LABELS), impostor)

    opens: list[str] = []
    real_open = builtins.open

    def open_then_swap(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        if isinstance(file, str | Path) and Path(file) == artifact and "r" in mode:
            opens.append(mode)
            if impostor.exists():
                os.replace(impostor, artifact)
        return handle

    monkeypatch.setattr(builtins, "open", open_then_swap)
    monkeypatch.setattr(io, "open", open_then_swap)
    loaded = registry.load(engine, settings, version)
    assert opens == ["rb"], "the artifact is opened once per load"
    assert type(loaded.model) is type(original)
    assert str(loaded.model) == str(original)
    # The next load reads the impostor, and refuses it.
    with pytest.raises(ModelIntegrityError, match="refusing to load a modified or partial"):
        registry.load(engine, settings, version)


def test_a_forged_artifact_with_a_matching_checksum_runs_nothing(live: Any, tmp_path: Path) -> None:
    """Whoever can write models/ and the database both still cannot run code through the
    registry: the CLI says why, exit 4, and the marker the payload writes never appears."""
    settings, engine = live
    project = settings.base_dir
    version = registry.production_version(settings)
    artifact = settings.path("paths.models") / str(version) / registry.ARTIFACT
    marker = tmp_path / "pwned"
    forged = pickle.dumps(_Calls(os.system, f"touch {marker}"))
    artifact.write_bytes(forged)
    digest = hashlib.sha256(forged).hexdigest()
    with engine.begin() as conn:
        conn.execute(
            sa.update(tables.model_versions)
            .where(tables.model_versions.c.version == version)
            .values(sha256=digest)
        )
    proc = invoke(project, "score")
    assert proc.returncode == 4, proc.stderr
    assert "names posix.system, which a model artifact has no use for" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()
