"""Settings: declared once in SETTINGS, read from riskwatch.toml, overridden by the environment.

Every key a user may set is a row of SETTINGS (name, default, kind, help) in `table`. The
README's settings table and `riskwatch settings` are derived from it, and a test fails when a key
is undocumented. `load` finds, reads and validates the file: a wrong value stops riskwatch at
start with the key's name and what was expected. `window` parses `training.window`.

Standard library only (the no-op tick imports it); it may import `pipeline.errors` and, inside
the one check that needs it, `pipeline.vocabulary`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pipeline.settings.table import BY_KEY, SETTINGS, Setting, markdown_table

if TYPE_CHECKING:
    from pipeline.settings.load import CONFIG_ENV, Settings, from_document, load_settings
    from pipeline.settings.profiles import profile_names, profile_text
    from pipeline.settings.window import Window, parse_window

# Imported when first asked for: code that reads only the table's defaults (the estimation
# benchmark's process, `pipeline.settings.table.default`) does not pay for the loader and its
# TOML parser.
_LAZY = {
    "CONFIG_ENV": "load",
    "Settings": "load",
    "from_document": "load",
    "load_settings": "load",
    "profile_names": "profiles",
    "profile_text": "profiles",
    "Window": "window",
    "parse_window": "window",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"pipeline.settings.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BY_KEY",
    "CONFIG_ENV",
    "SETTINGS",
    "Setting",
    "Settings",
    "Window",
    "from_document",
    "load_settings",
    "markdown_table",
    "parse_window",
    "profile_names",
    "profile_text",
    "provenance",
    "table",
]
