"""Settings profiles: complete riskwatch.toml files for a known way of working.

`riskwatch settings --profile NAME` prints one, to start a project from (`> riskwatch.toml`).
Each is a data file beside this module, shipped with the package; `original` behaves like the
original dynamic risk assessment system riskwatch replaces.
"""

from __future__ import annotations

from importlib import resources

from pipeline.errors import InvalidArgument


def profile_names() -> list[str]:
    """The profiles shipped, by name."""
    folder = resources.files(__name__)
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def profile_text(name: str) -> str:
    """The TOML text of profile `name`; InvalidArgument lists the profiles when it is unknown."""
    if name not in profile_names():
        known = ", ".join(profile_names())
        raise InvalidArgument(f"no settings profile {name!r}; the profiles are: {known}")
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
