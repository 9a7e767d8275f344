"""Unpickling a model artifact that admits only what a fitted model is made of.

A pickle is a program: each global it names is imported and may be called with arguments the
file chooses, so `joblib.load` runs whatever a file says (`os.system`, `builtins.eval`, ...).
A model artifact only needs to name *classes* (scikit-learn's estimators, NumPy's arrays and
dtypes, SciPy's sparse matrices, riskwatch's own transformers) and a handful of functions that
rebuild them (NumPy's array and scalar reconstructors, `copyreg._reconstructor`). `load` admits
those and refuses every other global before anything can call it: by its name first (one
identifier, from a named module), then by what the imported object is and where it really lives.
So a swapped or forged artifact, or one written by whoever could write `models/`, cannot run
code. Two reviews' bypasses are regression tests (tests/test_safe_pickle.py).

Trusted packages (the package of `model.estimator`, of `model.pipeline`'s factory, and
`registry.trusted_modules`) are the user's own code: their classes and functions are admitted,
as a model built by them needs. The rules are pure; nothing here touches a file.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import Any

from pipeline.errors import ModelIntegrityError

# Where the classes a fitted model is made of live: modules (and their submodules) whose classes
# are admitted. Each is named, not a whole package: pandas.core.computation evaluates text,
# numpy.lib and scipy.io open files, sklearn.datasets downloads; none of those is here.
CLASS_MODULES = (
    "numpy._core",
    "numpy.core",
    "numpy.dtypes",
    "numpy.random",
    "numpy.ma.core",
    "scipy.sparse",
    "scipy.interpolate._bsplines",  # SplineTransformer's splines
    "pandas.core.arrays",
    "pandas.core.dtypes",
    "pandas.core.frame",
    "pandas.core.indexes",
    "pandas.core.internals",
    "pandas.core.series",
    "pandas._libs.tslibs",
    "pandas._libs.internals",
    "pandas._libs.interval",
    "pipeline.model",  # riskwatch's own transformers (pipeline.model.design)
    "pipeline.design",  # their module before issue 8 (registry.MOVED_MODULES), in old pickles
    "pipeline.modeling",
)
# Of scikit-learn: its estimators (any subclass of BaseEstimator), and the classes their fitted
# state holds, from these modules only (trees, losses, kernels, distance metrics, optimisers).
# Not sklearn.callback (its __setstate__ opens a listener), nor sklearn.utils' Parallel.
SKLEARN_STATE_MODULES = (
    "sklearn._loss",
    "sklearn.calibration",
    "sklearn.cluster",
    "sklearn.compose",  # make_column_selector
    "sklearn.ensemble",
    "sklearn.feature_selection",
    "sklearn.impute",
    "sklearn.gaussian_process.kernels",
    "sklearn.linear_model._sgd_fast",
    "sklearn.metrics._dist_metrics",
    "sklearn.metrics._scorer",
    "sklearn.neighbors",
    "sklearn.neural_network._stochastic_optimizers",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
    "sklearn.utils._bunch",
    "sklearn.utils._metadata_requests",
)
# The packages of the above: a model.estimator from one of them trusts nothing more.
KNOWN_PACKAGES = ("sklearn", "numpy", "scipy", "pandas", "pipeline", "joblib")
# Modules whose own classes are admitted, not their submodules': NumPy's and pandas' public
# namespaces (ndarray, dtype, the scalar types; DataFrame, Index, Categorical, the dtypes).
EXACT_CLASS_MODULES = ("numpy", "pandas")
EXCLUDED_MODULES = (
    "sklearn.callback",  # its __setstate__ opens a listener
    "sklearn.datasets",  # downloads and writes files
    "sklearn.externals",
    "sklearn.utils._testing",
    "sklearn.utils._show_versions",
    "numpy.lib",
    "numpy.testing",
    "numpy.f2py",
    "numpy.ctypeslib",
)
# Classes of admitted modules that construct something outside memory.
REFUSED_CLASSES = {
    ("numpy", "memmap"),  # maps (and creates) a file
    ("numpy._core.memmap", "memmap"),
    ("pandas", "ExcelFile"),  # open files
    ("pandas", "ExcelWriter"),
    ("pandas", "HDFStore"),
}
TEST_PARTS = ("tests", "_testing", "conftest", "_pytesttester")  # test helpers run test suites
# Of joblib, only the array wrapper of its format since 0.10: Memory and Parallel do I/O or start
# processes, and the older format's wrappers (numpy_pickle_compat) read a file the artifact
# names and unpickle it unrestricted.
JOBLIB_CLASSES = {("joblib.numpy_pickle", "NumpyArrayWrapper")}
# Modules whose classes no admitted class may derive from: threads, processes, files, sockets.
REFUSED_BASES = ("joblib", "threading", "multiprocessing", "concurrent", "subprocess", "io", "os")

# Builtins a model's state is made of; never `eval`, `exec`, `getattr`, `__import__`, `open`.
SAFE_BUILTINS = {
    "bool",
    "bytearray",
    "bytes",
    "complex",
    "dict",
    "float",
    "frozenset",
    "int",
    "list",
    "object",
    "range",
    "set",
    "slice",
    "str",
    "tuple",
}
# Classes of the standard library that plain containers and values use.
SAFE_STDLIB = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("collections", "Counter"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("functools", "partial"),  # holds a callable that must itself be admitted
}
# Functions that rebuild objects, nothing else: NumPy's reconstructors, its random generators'
# constructors, the default object reconstructor, and the codec pickle uses for bytes.
SAFE_FUNCTIONS = {
    ("copyreg", "_reconstructor"),
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("sklearn.neighbors._kd_tree", "newObj"),  # KDTree's and BallTree's `cls.__new__(cls)`
    ("sklearn.neighbors._ball_tree", "newObj"),
    ("sklearn.metrics._dist_metrics", "newObj"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.blocks", "new_block"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    # Functions fitted estimators keep as attributes: pooling and averaging, KMeans' algorithm.
    ("numpy", "mean"),
    ("numpy", "median"),
    ("numpy", "average"),
    ("numpy", "sum"),
    ("numpy", "max"),
    ("numpy", "min"),
    ("sklearn.cluster._kmeans", "_kmeans_single_lloyd"),
    ("sklearn.cluster._kmeans", "_kmeans_single_elkan"),
    ("scipy._lib.array_api_compat.numpy._aliases", "asarray"),
}
# Cython's generated reconstructor of an extension type (`__pyx_unpickle_SeedSequence`): it
# takes the class as an argument, and that class is a global checked like any other.
CYTHON_RECONSTRUCTOR = "__pyx_unpickle_"
CYTHON_MODULES = ("numpy", "scipy", "sklearn")
# Pure functions an estimator may hold as a parameter (SelectKBest's score_func, a scorer).
FUNCTION_MODULES = (
    "sklearn.feature_selection._univariate_selection",
    "sklearn.metrics._classification",
    "sklearn.metrics._regression",
    "sklearn.metrics._ranking",
)


class RefusedGlobal(ModelIntegrityError, pickle.UnpicklingError):
    """The artifact names a global a model artifact has no business naming."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.module = module
        self.name = name


def _in(module: str, roots: Iterable[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def _class_module(module: str) -> bool:
    """Whether a module's classes may be admitted, before import (scikit-learn's are judged
    once imported: see _admitted_class)."""
    if any(part in TEST_PARTS for part in module.split(".")):
        return False
    if _in(module, ("sklearn",)):
        return not _in(module, EXCLUDED_MODULES)
    if module in EXACT_CLASS_MODULES:
        return True
    return _in(module, CLASS_MODULES) and not _in(module, EXCLUDED_MODULES)


def admits_name(module: str, name: str, trusted: Iterable[str] = ()) -> bool:
    """Whether a global may be imported at all, judged by its names alone (before import).

    A name is one identifier: pickle resolves a dotted name (`f.__builtins__.get`) attribute
    by attribute, which would reach anything from any admitted object."""
    if not name.isidentifier():
        return False
    if (module, name) in SAFE_FUNCTIONS:
        return True
    if name.startswith("__") and not name.startswith(CYTHON_RECONSTRUCTOR):
        return False
    if _in(module, trusted):
        return True
    if module == "builtins":
        return name in SAFE_BUILTINS
    if (module, name) in SAFE_STDLIB or (module, name) in JOBLIB_CLASSES:
        return True
    if name.startswith(CYTHON_RECONSTRUCTOR):
        return _in(module, CYTHON_MODULES) and not _in(module, EXCLUDED_MODULES)
    return _class_module(module) or _in(module, FUNCTION_MODULES)


def admits_object(module: str, name: str, obj: Any, trusted: Iterable[str] = ()) -> bool:
    """Whether the imported object may be used. Judged by what it is and where it really lives
    (`__module__`), so a re-export (sklearn.utils re-exporting a joblib class, a trusted module
    importing os.system) does not smuggle in what its home would not be admitted for."""
    if (module, name) in SAFE_FUNCTIONS or (module, name) in SAFE_STDLIB:
        return True
    if module == "builtins":
        return isinstance(obj, type) and obj.__module__ == "builtins"
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str):
        return False  # a bound method of a built-in, an instance: not a global of a module
    if isinstance(obj, type):
        return _admitted_class(obj, home, trusted)
    if _in(home, trusted) and _in(module, trusted):
        return callable(obj)  # the user's own functions, where the user's code lives
    if _is_ufunc(obj):
        return module == "numpy"  # NumPy's element-wise functions (np.log1p)
    if name.startswith(CYTHON_RECONSTRUCTOR):
        return admits_name(module, name) and callable(obj)
    return _is_function(obj) and _in(home, FUNCTION_MODULES) and _in(module, FUNCTION_MODULES)


def _is_function(obj: Any) -> bool:
    import types

    return isinstance(obj, types.FunctionType | types.BuiltinFunctionType)


def _admitted_class(cls: type, home: str, trusted: Iterable[str]) -> bool:
    if (home, cls.__name__) in JOBLIB_CLASSES:
        return True
    if _refused_class(cls):
        return False
    if _in(home, trusted):
        return True
    if _in(home, ("sklearn",)):
        from sklearn.base import BaseEstimator

        estimator = issubclass(cls, BaseEstimator) and not _in(home, EXCLUDED_MODULES)
        return estimator or _in(home, SKLEARN_STATE_MODULES)
    return _class_module(home)


def _refused_class(cls: type) -> bool:
    """A subclass of a refused class is refused too (a memmap by another name), and so is any
    class built on threads, processes, files or sockets (sklearn's Parallel is joblib's)."""
    for base in cls.__mro__:
        module = getattr(base, "__module__", "") or ""
        if (module, base.__name__) in REFUSED_CLASSES:
            return True
        if _in(module, REFUSED_BASES) and (module, base.__name__) not in JOBLIB_CLASSES:
            return True
    return False


def _is_ufunc(obj: Any) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return False
    return isinstance(obj, np.ufunc)


def load(data: bytes, trusted: Iterable[str] = ()) -> Any:
    """The object in joblib-pickled `data`, refusing any global a model cannot need
    (RefusedGlobal, naming it). Compressed joblib files are read as joblib reads them."""
    from joblib import numpy_pickle, numpy_pickle_utils

    trusted = tuple(trusted)

    class ModelUnpickler(numpy_pickle.NumpyUnpickler):
        def find_class(self, module: str, name: str) -> Any:
            if not admits_name(module, name, trusted):
                raise RefusedGlobal(module, name)
            obj = super().find_class(module, name)
            if not admits_object(module, name, obj, trusted):
                raise RefusedGlobal(module, name)
            return obj

    # joblib's own reading of a file object: it detects (and undoes) compression.
    validate = numpy_pickle_utils._validate_fileobject_and_memmap
    with validate(io.BytesIO(data), "", None) as (fobj, _mmap):
        return ModelUnpickler("", fobj, ensure_native_byte_order=True).load()
