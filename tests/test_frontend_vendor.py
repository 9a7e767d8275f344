"""The browser libraries the pages load are the pinned ones, served by the app itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.frontend import vendor

ROOT = Path(__file__).resolve().parent.parent


def test_every_vendored_library_is_pinned_exactly_in_package_json_and_its_lock() -> None:
    pins = vendor.pinned()
    lock = json.loads((ROOT / "app/frontend/package-lock.json").read_text())["packages"]
    for library in vendor.FILES:
        assert re.fullmatch(r"\d+\.\d+\.\d+", pins[library]), f"{library} not pinned exactly"
        assert lock[f"node_modules/{library}"]["version"] == pins[library]
        assert lock[""]["dependencies"][library] == pins[library]


def test_the_vendored_chart_library_is_the_pinned_version() -> None:
    head = (vendor.VENDOR / "chart.js" / "chart.umd.min.js").read_text()[:200]
    assert f"Chart.js v{vendor.pinned()['chart.js']}" in head
    assert (vendor.VENDOR / "chart.js" / "LICENSE.md").is_file()


def test_the_copies_equal_what_npm_installed() -> None:
    if not (vendor.HERE / "node_modules").is_dir():
        pytest.skip("npm has not installed app/frontend here (make static does)")
    assert vendor.problems() == []


def test_the_app_serves_the_library_without_a_token(project: Path) -> None:
    from app import create_app
    from pipeline.settings import load_settings

    settings = load_settings(project / "riskwatch.toml", environ={})
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        with app.test_client() as client:
            answer = client.get("/static/vendor/chart.js/chart.umd.min.js")
            assert answer.status_code == 200
            assert b"Chart.js v" in answer.data[:200]
            answer.close()
    finally:
        app.extensions["riskwatch"].engine.dispose()
