"""Settings: declared once in SETTINGS, read from riskwatch.toml, overridden by the environment.

Every key a user may set is a row of SETTINGS (name, default, kind, help) in `table`. The
README's settings table and `riskwatch settings` are derived from it, and a test fails when a key
is undocumented. `load` finds, reads and validates the file: a wrong value stops riskwatch at
start with the key's name and what was expected. `window` parses `training.window`.

Standard library only (the no-op tick imports it); it may import `pipeline.errors` and, inside
the one check that needs it, `pipeline.vocabulary`.
"""

from pipeline.settings.load import CONFIG_ENV, Settings, from_document, load_settings
from pipeline.settings.profiles import profile_names, profile_text
from pipeline.settings.table import BY_KEY, SETTINGS, Setting, markdown_table
from pipeline.settings.window import Window, parse_window

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
