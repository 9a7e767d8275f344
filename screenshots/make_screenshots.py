"""Make the README's images from the real app: three ticks on the sample, then headless Chromium.

    .venv/bin/python screenshots/make_screenshots.py [--report-only]

Needs Debian's `chromium` and `pdftoppm` (poppler-utils). Writes screenshots/index.png and
screenshots/report-page-2.png from a throw-away project in a temporary folder; with
`--report-only`, the report's page alone (pdftoppm only).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from pipeline.run import run_once  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402
from pipeline.storage import db  # noqa: E402
from pipeline.tools.sampledata import write_sample_data  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def build_demo(project: Path) -> str:
    """Three ticks: train v1, keep it on a like batch, retrain and promote v2 on a drifted one."""
    (project / "riskwatch.toml").write_text("[diagnostics]\noutdated_packages = false\n")
    staging = project / "staging"
    write_sample_data(staging, batches=3, rows=2000)
    (project / "testdata").mkdir()
    shutil.copy(staging / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    inbox = project / "sourcedata"
    inbox.mkdir()
    settings = load_settings(project / "riskwatch.toml", environ={})
    db.upgrade(db.make_engine(settings.database_url))
    last = None
    for batch in (1, 2, 3):
        name = f"clients_batch_{batch:02d}.csv"
        shutil.copy(staging / "sourcedata" / name, inbox / name)
        last = run_once(settings)
        print(f"tick {batch}: {last['decision']['reason']}", file=sys.stderr)
    return last["report"]


def main() -> None:
    report_only = "--report-only" in sys.argv[1:]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not shutil.which("pdftoppm") or not (chromium or report_only):
        sys.exit("needs chromium and pdftoppm: apt-get install chromium poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        report = build_demo(project)
        if not report_only:
            assert chromium is not None
            _screenshot_index(chromium, project)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "70",
                "-f",
                "2",
                "-l",
                "2",
                report,
                str(HERE / "report-page"),
            ],
            check=True,
        )
    for png in sorted(HERE.glob("*.png")):
        print(png)


def _screenshot_index(chromium: str, project: Path) -> None:
    """The run list, as headless Chromium shows it, served by the real app."""
    settings = load_settings(project / "riskwatch.toml", environ={})
    server = make_server("127.0.0.1", 0, create_app({"RISKWATCH_SETTINGS": settings}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={project / 'chrome'}",
                "--window-size=1280,720",
                f"--screenshot={HERE / 'index.png'}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
