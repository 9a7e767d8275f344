"""What the benchmarks share: a scratch project, timed child processes, the machine's figures.

Standard library only, so importing it costs a benchmark nothing it then has to subtract.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Every benchmark project turns the pip query off: it is network-bound, runs in the background,
# and would measure the network, not riskwatch.
SETTINGS_TOML = "[diagnostics]\noutdated_packages = false\n"


def riskwatch_command() -> list[str]:
    """The `riskwatch` console script beside this interpreter (what cron runs)."""
    script = Path(PYTHON).parent / "riskwatch"
    if script.is_file():
        return [str(script)]
    return [PYTHON, "-c", "import sys; from pipeline.cli import main; sys.exit(main())"]


@dataclass
class Child:
    """A finished child process: its wall time, exit code, peak RSS and output."""

    seconds: float
    returncode: int
    max_rss_bytes: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system: less moved than wall time by other work

    def check(self, what: str) -> Child:
        if self.returncode != 0:
            tail = "\n".join(self.stderr.splitlines()[-20:])
            raise SystemExit(f"{what} failed with exit code {self.returncode}:\n{tail}")
        return self

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_child(
    argv: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> Child:
    """Run argv to completion; time it and read its own peak RSS from wait4 (not the group's).

    Linux counts the parent's resident pages at the fork in the child's ru_maxrss (they are
    kept across exec), so the calling process must stay small for the figure to be the child's.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Child(
            seconds=seconds,
            returncode=proc.returncode,
            max_rss_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )


def new_project(workdir: Path) -> Path:
    """A fresh riskwatch project (settings file and an upgraded SQLite database) in workdir."""
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "sourcedata").mkdir(parents=True)
    (workdir / "riskwatch.toml").write_text(SETTINGS_TOML)
    run_child([*riskwatch_command(), "db", "upgrade"], cwd=workdir).check("riskwatch db upgrade")
    return workdir


def scratch_dir(given: str | None, name: str) -> tuple[Path, bool]:
    """The benchmark's working folder and whether the benchmark made it (and so removes it)."""
    if given:
        return Path(given).resolve() / name, False
    return Path(tempfile.mkdtemp(prefix=f"riskwatch-{name}-")), True


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libraries = {}
    for name in ("pandas", "scikit-learn", "numpy", "pyarrow", "sqlalchemy"):
        try:
            libraries[name] = metadata.version(name)  # read from metadata: nothing imported
        except metadata.PackageNotFoundError:
            libraries[name] = None
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": libraries,
    }


def yes(flag: bool) -> str:
    """How a target reads in the output: "yes", or a "NO" that stands out."""
    return "yes" if flag else "NO"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


def write_results(path: str | None, results: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(results, indent=2, default=str) + "\n")


def tool_python(venv: Path, requirements: Path) -> Path:
    """venv/bin/python, made or brought up to `requirements` (a hash stamp says when)."""
    import hashlib

    python = venv / "bin" / "python"
    stamp = venv / f"{requirements.stem}.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
        return python
    print(f"making {venv.name} from {requirements.name} (once) …", flush=True)
    t0 = time.perf_counter()
    if not python.is_file():
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")  # git and ruff leave it alone, as venv does on 3.13
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    stamp.write_text(want + "\n")
    print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    return python
