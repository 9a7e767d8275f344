"""The README says only true things: every setting, CLI command and API route is documented."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.cli import main as cli_main
from pipeline.settings import SETTINGS
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _default(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{}"
    return json.dumps(value) if isinstance(value, str | list) else str(value)


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.key for s in SETTINGS])
def test_every_setting_is_in_the_readme_with_its_default(setting):
    row = re.search(rf"^\| `{re.escape(setting.key)}` \| `(.*?)` \| (.*) \|$", README, re.M)
    assert row, f"{setting.key} is not in the README's settings table"
    assert row.group(1) == _default(setting.default)
    assert setting.help in row.group(2)


def test_the_settings_table_is_the_generated_one():
    from pipeline.settings import markdown_table

    table = README.split("<!-- settings-table")[1].split("\n", 1)[1]
    assert table.split("<!-- end settings-table")[0].strip() == markdown_table()


def test_the_readme_names_no_unknown_setting():
    keys = {s.key for s in SETTINGS}
    table = README.split("<!-- settings-table")[1].split("<!-- end settings-table")[0]
    assert set(re.findall(r"^\| `([a-z_.]+)` \|", table, re.M)) == keys


def test_every_cli_command_is_in_the_readme():
    for name, command in cli_main.commands.items():
        subs = getattr(command, "commands", {})
        for full in [f"{name} {sub}" for sub in subs] or [name]:
            assert f"| `{full}" in README, f"riskwatch {full} is not in the README's CLI table"


def test_every_api_route_is_in_the_readme():
    from app import create_app
    from pipeline.settings import load_settings

    app = create_app({"RISKWATCH_SETTINGS": load_settings(REPO / "riskwatch.toml", environ={})})
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule == "/":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for method in methods:
            assert f"`{method} {path}" in README, f"{method} {path} is not in the README"


def test_settings_never_print_secrets(tmp_path):
    from tests.e2e import invoke

    env = {
        "PATH": "/usr/bin:/bin",
        "RISKWATCH_WEBHOOK_URL": "https://hooks.example/T000/B000/very-secret",
        "DATABASE_URL": "postgres://user:hunter2@db.internal/riskwatch",
    }
    done = invoke(tmp_path, "settings", "--json", environ=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "very-secret" not in out and "hunter2" not in out
    assert "(set)" in out
