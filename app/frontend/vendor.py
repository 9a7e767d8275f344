"""Copy the pinned browser libraries' built files into app/static/vendor, or check them.

The pages load their libraries from the app itself (no CDN: riskwatch runs offline and on
private networks). package.json pins each library at one version and package-lock.json records
its integrity; `npm ci` installs exactly those, and this script copies the files the pages use,
with each library's licence, into app/static/vendor/<library>/, where git keeps them.

    npm ci --prefix app/frontend && python app/frontend/vendor.py           (make static)
    python app/frontend/vendor.py --check      the copies equal what npm installed

A library is added by pinning it in package.json (`npm install --save-exact NAME@VERSION`)
and naming its files in FILES.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "static" / "vendor"

# library: the files the pages use, relative to node_modules/<library>/
FILES: dict[str, tuple[str, ...]] = {
    "chart.js": ("dist/chart.umd.min.js", "LICENSE.md"),
    # /docs: the bundle carries React and the UI; its standalone preset (a top bar with a URL
    # box) is not used, so the page shows this app's document only.
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"),
}


def pinned() -> dict[str, str]:
    """The exact version package.json pins for each library."""
    return json.loads((HERE / "package.json").read_text())["dependencies"]


def installed_version(library: str) -> str:
    return json.loads((HERE / "node_modules" / library / "package.json").read_text())["version"]


def pairs() -> list[tuple[Path, Path]]:
    """(what npm installed, the vendored copy) for every file of every library."""
    out = []
    for library, files in FILES.items():
        for name in files:
            out.append((HERE / "node_modules" / library / name, VENDOR / library / Path(name).name))
    return out


def problems() -> list[str]:
    """What differs between package.json, npm's install and the vendored copies."""
    found = []
    versions = pinned()
    for library in FILES:
        if library not in versions:
            found.append(f"{library} is not pinned in package.json")
        elif not (HERE / "node_modules" / library).is_dir():
            found.append(f"{library} is not installed: run `npm ci --prefix app/frontend`")
        elif (version := installed_version(library)) != versions[library]:
            found.append(f"{library} {version} installed, {versions[library]} pinned")
    if found:
        return found
    for source, copy in pairs():
        if not copy.is_file() or not filecmp.cmp(source, copy, shallow=False):
            where = copy.relative_to(HERE.parent.parent)
            found.append(f"{where} differs from npm's {source.relative_to(HERE)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the copies")
    args = parser.parse_args(argv)
    if not args.check:
        for library in FILES:
            shutil.rmtree(VENDOR / library, ignore_errors=True)
        for source, copy in pairs():
            if source.is_file():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"app/static/vendor: {', '.join(f'{k} {v}' for k, v in pinned().items())}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
