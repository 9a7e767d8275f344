"""Make the README's images from the real app: a demo project's ticks, then headless Chromium.

    .venv/bin/python screenshots/make_screenshots.py [--report-only] [--keep DIR]

The demo (`build_demo`) is production traffic as the pages show it: a labelled batch trains
v1; an unlabelled batch is predicted by the schedule and its performance estimated; its labels
arrive a tick later and are reconciled; a drifted labelled batch makes the model retrain;
another unlabelled, drifted batch, and predictions through the API. Then the real app is served
on 127.0.0.1 and Playwright drives Debian's chromium over each page of PAGES, signed in with a
read token, writing screenshots/<name>.png; page 2 of the last run's PDF report is rendered by
pdftoppm (poppler-utils). `--keep DIR` builds the demo in DIR and keeps it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pandas as pd  # noqa: E402

from pipeline.run import run_once  # noqa: E402
from pipeline.settings import Settings, load_settings  # noqa: E402
from pipeline.storage import db, tokens  # noqa: E402
from pipeline.tools.sampledata import write_sample_data  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# name: (path, viewport width); {run} is the newest run that did something.
PAGES: dict[str, tuple[str, int]] = {
    "overview": ("/?range=day", 1280),
    "data-quality": ("/quality?range=day", 1280),
    "drift": ("/drift?range=day", 1280),
    "drift-feature": ("/drift/lastmonth_activity?range=day", 1280),
    "runs": ("/runs", 1280),
    "run": ("/runs/{run}", 1280),
    "predict": ("/predict", 1280),
    "past-predictions": ("/past-predictions", 1280),
    "overview-phone": ("/?range=day", 390),
}
CONFIG = "[diagnostics]\noutdated_packages = false\n"
TARGET, ID = "exited", "corporation"


def build_demo(project: Path) -> tuple[Settings, str]:
    """Six ticks of production traffic (see the module's docstring); the last report's path."""
    (project / "riskwatch.toml").write_text(CONFIG)
    staging = project / "staging"
    write_sample_data(staging, batches=4, rows=2000, drift_from=3)
    (project / "testdata").mkdir()
    shutil.copy(staging / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    inbox, labels = project / "sourcedata", project / "labels"
    inbox.mkdir()
    labels.mkdir()
    settings = load_settings(project / "riskwatch.toml", environ={})
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    batch = {
        n: pd.read_csv(staging / "sourcedata" / f"clients_batch_{n:02d}.csv") for n in (1, 2, 3, 4)
    }

    def tick(what: str) -> dict:
        done = run_once(settings)
        print(f"{what}: {done['status']}, {done['decision']['reason']}", file=sys.stderr)
        return done

    batch[1].to_csv(inbox / "clients_batch_01.csv", index=False)
    tick("a labelled batch")
    batch[2].drop(columns=[TARGET]).to_csv(inbox / "clients_batch_02.csv", index=False)
    tick("an unlabelled batch")
    batch[2][[ID, TARGET]].to_csv(labels / "outcomes_batch_02.csv", index=False)
    tick("its labels arrive")
    batch[3].to_csv(inbox / "clients_batch_03.csv", index=False)
    tick("a drifted, labelled batch")
    batch[4].drop(columns=[TARGET]).to_csv(inbox / "clients_batch_04.csv", index=False)
    _api_predictions(settings, batch[4].drop(columns=[TARGET, ID]).head(40))
    last = tick("a drifted, unlabelled batch")
    return settings, last["report"]


def _api_predictions(settings: Settings, records: pd.DataFrame) -> None:
    """Predictions through POST /prediction, as a client of the API makes them."""
    from app import create_app

    engine = db.make_engine(settings.database_url)
    secret = tokens.create(engine, "demo-client", "predict")[1]
    engine.dispose()
    app = create_app({"RISKWATCH_SETTINGS": settings})
    try:
        with app.test_client() as client:
            for start in range(0, len(records), 10):
                chunk = records.iloc[start : start + 10].to_dict(orient="records")
                # A missing value is null in JSON (pandas reads it as NaN).
                chunk = [{k: (None if v != v else v) for k, v in r.items()} for r in chunk]
                answer = client.post(
                    "/prediction", json=chunk, headers={"Authorization": f"Bearer {secret}"}
                )
                if answer.status_code != 200:
                    sys.exit(f"POST /prediction answered {answer.status_code}: {answer.data!r}")
    finally:
        app.extensions["riskwatch"].engine.dispose()


def screenshot_pages(settings: Settings) -> list[Path]:
    """Each page of PAGES as chromium shows it, signed in with a read token."""
    import sqlalchemy as sa
    from playwright.sync_api import sync_playwright

    from tests.browser import serve

    engine = db.make_engine(settings.database_url)
    secret = tokens.create(engine, "screenshots", "read")[1]
    with engine.connect() as conn:
        run = conn.execute(
            sa.text("SELECT id FROM runs WHERE status = 'succeeded' ORDER BY started_at DESC")
        ).scalar()
    engine.dispose()
    written = []
    with serve(settings) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, (path, width) in PAGES.items():
                context = browser.new_context(
                    base_url=base, viewport={"width": width, "height": 900},
                    extra_http_headers={"Authorization": f"Bearer {secret}"},
                )  # fmt: skip
                page = context.new_page()
                answer = page.goto(path.format(run=run))
                if answer is None or answer.status != 200:
                    sys.exit(f"{path} answered {answer.status if answer else 'nothing'}")
                page.wait_for_load_state("networkidle")
                out = HERE / f"{name}.png"
                page.screenshot(path=str(out))  # the first screenful, as a reader sees it
                written.append(out)
                context.close()
        finally:
            browser.close()
    return written


def report_page(report: str, project: Path) -> Path:
    """Page 2 of the run's PDF report (deployments, files, scores), as pdftoppm renders it."""
    pdf = Path(report) if Path(report).is_absolute() else project / report
    stem = HERE / "report-page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "2", "-l", "2", str(pdf), str(stem)], check=True
    )
    return stem.with_name("report-page-2.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report-only", action="store_true", help="only the report's page")
    parser.add_argument("--keep", type=Path, help="build the demo in this folder and keep it")
    args = parser.parse_args(argv)
    if not shutil.which("pdftoppm") or not (Path(CHROMIUM).exists() or args.report_only):
        sys.exit("needs chromium and pdftoppm: apt-get install chromium poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        project = args.keep or Path(tmp)
        project.mkdir(parents=True, exist_ok=True)
        settings, report = build_demo(project)
        written = [] if args.report_only else screenshot_pages(settings)
        written.append(report_page(report, project))
    for png in written:
        print(png)


if __name__ == "__main__":
    main()
