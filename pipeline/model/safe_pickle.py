"""Unpickling a model artifact that admits only what a fitted model is made of.

A pickle is a program: each global it names is imported and may be called with arguments the
file chooses, so `joblib.load` runs whatever a file says (`os.system`, `builtins.eval`, ...).
A model artifact only needs to name *classes* (scikit-learn's estimators, NumPy's arrays and
dtypes, SciPy's sparse matrices, riskwatch's own transformers) and a handful of functions that
rebuild them (NumPy's array and scalar reconstructors, `copyreg._reconstructor`). `load` admits
those and refuses every other global before it is imported, so a swapped or forged artifact
that passed no checksum, or one written by a tool that could write `models/`, cannot run code.

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

# Module roots whose classes a fitted model may hold. For each, the classes that construct
# something outside memory (a file, a cache folder, worker processes) are refused by name.
CLASS_ROOTS = ("sklearn", "numpy", "scipy", "pipeline", "joblib", "pandas")
REFUSED_CLASSES = {
    ("numpy", "memmap"),  # maps (and creates) a file
    ("numpy", "DataSource"),  # opens paths and URLs
    ("numpy.lib._datasource", "DataSource"),
    ("numpy.lib._datasource", "Repository"),
    ("numpy.lib._npyio_impl", "NpzFile"),
    ("scipy.io", "FortranFile"),  # opens a file
    ("scipy.io", "netcdf_file"),
}
# Of joblib, only its array wrappers: Memory, Parallel and the rest do I/O or start processes.
JOBLIB_CLASSES = {"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}
# Of pandas, only its data structures (pandas.core, pandas._libs): its io package opens files.
PANDAS_PREFIXES = ("pandas.core.", "pandas._libs.", "pandas.arrays")

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
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.blocks", "new_block"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
}
# Cython's generated reconstructor of an extension type (`__pyx_unpickle_SeedSequence`): it
# takes the class as an argument, and that class is a global checked like any other.
CYTHON_RECONSTRUCTOR = "__pyx_unpickle_"
# Pure functions an estimator may hold as a parameter (SelectKBest's score_func, a scorer).
FUNCTION_MODULES = ("sklearn.feature_selection._univariate_selection", "sklearn.metrics")


class RefusedGlobal(ModelIntegrityError, pickle.UnpicklingError):
    """The artifact names a global a model artifact has no business naming."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.module = module
        self.name = name


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _in(module: str, roots: Iterable[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def admits_name(module: str, name: str, trusted: Iterable[str] = ()) -> bool:
    """Whether a global may be imported at all, judged by its names alone (before import)."""
    if _in(module, trusted):
        return True
    if module == "builtins":
        return name in SAFE_BUILTINS
    if (module, name) in SAFE_STDLIB or (module, name) in SAFE_FUNCTIONS:
        return True
    if (module, name) in REFUSED_CLASSES or (name.startswith("__") and name.endswith("__")):
        return False
    if name.startswith(CYTHON_RECONSTRUCTOR):
        return _root(module) in ("numpy", "scipy", "sklearn")
    if _root(module) == "joblib":
        return name in JOBLIB_CLASSES
    if _root(module) == "pandas":
        return module.startswith(PANDAS_PREFIXES) or module == "pandas"
    return _root(module) in CLASS_ROOTS


def admits_object(module: str, name: str, obj: Any, trusted: Iterable[str] = ()) -> bool:
    """Whether the imported object may be used: a class where the module is one of classes, a
    listed function, or anything of a trusted package. Judged by where it really lives too, so
    a re-export (sklearn.utils re-exporting joblib.Memory) does not smuggle a refused class."""
    if _in(module, trusted):
        return True
    if (module, name) in SAFE_FUNCTIONS or (module, name) in SAFE_STDLIB:
        return True
    if module == "builtins":
        return isinstance(obj, type)
    home = getattr(obj, "__module__", None) or module
    if isinstance(obj, type):
        home_name = getattr(obj, "__name__", name)
        return admits_name(home, home_name, trusted) and not _refused_class(obj)
    if name.startswith(CYTHON_RECONSTRUCTOR):
        return admits_name(module, name, trusted) and callable(obj)
    if _is_ufunc(obj):
        return True  # NumPy's element-wise functions (np.log1p in a FunctionTransformer)
    return callable(obj) and _in(home, FUNCTION_MODULES) and _in(module, FUNCTION_MODULES)


def _refused_class(cls: type) -> bool:
    """A subclass of a refused class is refused too (a memmap by another name)."""
    for base in cls.__mro__:
        key = (getattr(base, "__module__", ""), base.__name__)
        if key in REFUSED_CLASSES or (key[0] == "numpy" and key[1] == "memmap"):
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
