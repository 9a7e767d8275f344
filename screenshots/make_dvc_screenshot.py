"""Make the README's `dvc exp show` image from the real CLI, in a real terminal.

    .venv/bin/python screenshots/make_dvc_screenshot.py [--keep]

Needs git, tmux and the environment's dvc (`riskwatch[experiments]`). In a throw-away copy of
this checkout (its git-tracked files and the untracked ones git does not ignore) it runs the
README's flow, "Experiments with DVC": `riskwatch run`, `riskwatch experiments init`,
`riskwatch experiments snapshot`, a commit, `dvc repro` (the baseline) and a commit, a queued
grid of three values of model.params.C (`dvc exp run --queue`, `--run-all`) and one named run
in the workspace; then `dvc exp show --only-changed` in a detached tmux session of fixed size,
whose screen (`tmux capture-pane -e`, with its colours) is drawn with Pillow into
screenshots/dvc_exp_show.png. The DVC remote is a folder in the temporary directory. With
`--keep`, the temporary directory is kept and its path printed. About a minute.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

Style = dict[str, Any]  # fg, bg (RGB or None), bold, dim, reverse

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "dvc_exp_show.png"

COLUMNS, ROWS = 180, 24
# The columns that fit: the holdout metric of the challenger and of the production model on the
# same rows (metrics.json; --keep, since --only-changed would hide production's equal values),
# would_promote and the changed parameters. Dropped: timestamps and queue columns, the
# intervals, the test-file evaluation (evaluation.json; `riskwatch experiments` and
# `dvc plots show` have it) and the model's hash.
KEEP = ".*metrics.json:production.f1"
DROP = r"Created|State|Executor|.*ci_|challenger\.|.*evaluation.json|experiments/model"
SHOW = ["dvc", "exp", "show", "--only-changed", "--no-pager", "--keep", KEEP, "--drop", DROP]
GRID = "riskwatch.toml:model.params.C=0.01,0.1,10"  # the baseline has C = 1.0
NAMED = ("balanced", "riskwatch.toml:+model.params.class_weight=balanced")

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
FONT_SIZE = 15
PAD = 16
BACKGROUND = (30, 30, 30)
FOREGROUND = (212, 212, 212)
# The 16 ANSI colours (a dark theme); 16-255 are the xterm cube and grey ramp.
ANSI = [
    (30, 30, 30),
    (205, 49, 49),
    (13, 188, 121),
    (229, 229, 16),
    (36, 114, 200),
    (188, 63, 188),
    (17, 168, 205),
    (229, 229, 229),
    (102, 102, 102),
    (241, 76, 76),
    (35, 209, 139),
    (245, 245, 67),
    (59, 142, 234),
    (214, 112, 214),
    (41, 184, 219),
    (255, 255, 255),
]


def _xterm(n: int) -> tuple[int, int, int]:
    if n < 16:
        return ANSI[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[n // 6 % 6], steps[n % 6]
    level = 8 + 10 * (n - 232)
    return level, level, level


def _env() -> dict[str, str]:
    """This environment's bin folder first on PATH, no analytics, no pager."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_PAGER": "cat"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for name in ("DVC_ROOT", "RISKWATCH_CONFIG", "DATABASE_URL", "TMUX", "NO_COLOR"):
        env.pop(name, None)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    print("$", " ".join(args), file=sys.stderr, flush=True)
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        sys.exit(f"`{' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def copy_checkout(project: Path) -> None:
    """The checkout as a user has it: git-tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = REPO / name
        if name.startswith("screenshots/") or not source.is_file():
            continue
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, project / name)


def build_experiments(project: Path, env: dict[str, str]) -> None:
    """The README's flow, up to three queued experiments and one named workspace run."""
    with (project / "riskwatch.toml").open("a", encoding="utf-8") as settings:
        # The DVC remote inside the temporary directory; no pip query with the run.
        settings.write('\n[experiments]\nremote = "../dvc-remote"\n')
        settings.write("\n[diagnostics]\noutdated_packages = false\n")
    git = ["git", "-c", "user.name=riskwatch screenshots", "-c", "user.email=screenshots@localhost"]
    _run(["git", "init", "-q", "-b", "main"], project, env)
    _run([*git, "add", "-A"], project, env)
    _run([*git, "commit", "-q", "-m", "start"], project, env)
    _run(["riskwatch", "-q", "run"], project, env)
    _run(["riskwatch", "experiments", "init"], project, env)
    _run(["riskwatch", "experiments", "snapshot"], project, env)
    _run([*git, "add", "-A"], project, env)
    _run([*git, "commit", "-q", "-m", "snapshot"], project, env)
    _run(["dvc", "repro"], project, env)
    _run([*git, "add", "-A"], project, env)
    _run([*git, "commit", "-q", "-m", "baseline"], project, env)
    _run(["dvc", "exp", "run", "--queue", "-S", GRID], project, env)
    _run(["dvc", "exp", "run", "--run-all"], project, env)
    _run(["dvc", "exp", "run", "-n", NAMED[0], "-S", NAMED[1]], project, env)
    print(_run(["riskwatch", "experiments"], project, env), file=sys.stderr)


def capture_terminal(project: Path, tmp: Path, env: dict[str, str]) -> str:
    """`dvc exp show` in a detached tmux session COLUMNS x ROWS; its screen with colour codes."""
    socket = tmp / "tmux.sock"
    tmux = ["tmux", "-S", str(socket), "-f", "/dev/null"]
    script = tmp / "show.sh"
    command = " ".join(shlex.quote(a) for a in SHOW)
    script.write_text(
        "export TERM=xterm-256color\n"
        "clear\n"
        "printf '\\033[32m$\\033[0m '\n"
        f"printf '%s\\n' {shlex.quote(command)}\n"
        f"{command}\n"
        f"tmux -S {shlex.quote(str(socket))} wait-for -S shown\n"
        "sleep 600\n"
    )
    session = [*tmux, "new-session", "-d", "-x", str(COLUMNS), "-y", str(ROWS)]
    subprocess.run([*session, "-c", str(project), f"sh {script}"], env=env, check=True)
    try:
        subprocess.run([*tmux, "wait-for", "shown"], env=env, check=True, timeout=300)
        time.sleep(0.5)  # let tmux draw the last lines
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-J"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, check=False)
    return screen


SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][A-Z0-9])")


def _apply_sgr(params: str, style: Style) -> None:
    codes = [int(c) if c else 0 for c in re.split("[;:]", params)] or [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            style.update(fg=None, bg=None, bold=False, dim=False, reverse=False)
        elif code == 1:
            style["bold"] = True
        elif code == 2:
            style["dim"] = True
        elif code == 7:
            style["reverse"] = True
        elif code in (21, 22):
            style.update(bold=False, dim=False)
        elif code == 27:
            style["reverse"] = False
        elif 30 <= code <= 37 or 90 <= code <= 97:
            style["fg"] = ANSI[code - 30 if code < 90 else code - 82]
        elif 40 <= code <= 47 or 100 <= code <= 107:
            style["bg"] = ANSI[code - 40 if code < 100 else code - 92]
        elif code == 39:
            style["fg"] = None
        elif code == 49:
            style["bg"] = None
        elif code in (38, 48) and i + 1 < len(codes):
            key = "fg" if code == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                style[key] = _xterm(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                style[key] = tuple(codes[i + 2 : i + 5])
                i += 4
        i += 1


def parse_screen(text: str) -> list[list[tuple[str, Style]]]:
    """Lines of (character, style) cells from text with SGR codes."""
    lines = []
    style: Style = {}
    _apply_sgr("0", style)
    for raw in text.rstrip("\n").split("\n"):
        cells: list[tuple[str, Style]] = []
        pos = 0
        for match in SGR.finditer(raw):
            chunk = OTHER_ESCAPE.sub("", raw[pos : match.start()])
            cells.extend((ch, dict(style)) for ch in chunk)
            _apply_sgr(match.group(1), style)
            pos = match.end()
        cells.extend((ch, dict(style)) for ch in OTHER_ESCAPE.sub("", raw[pos:]))
        lines.append(cells)
    while lines and not "".join(ch for ch, _ in lines[-1]).strip():
        lines.pop()
    return lines


def render(lines: list[list[tuple[str, Style]]], out: Path) -> None:
    """Draw the cells on a dark background, one monospace cell per character."""
    regular = ImageFont.truetype(FONT, FONT_SIZE)
    bold = ImageFont.truetype(FONT_BOLD, FONT_SIZE)
    _, top, _, bottom = regular.getbbox("M")
    cell_w = round(regular.getlength("M"))
    cell_h = round(FONT_SIZE * 1.3)
    width = max((len(cells) for cells in lines), default=0)
    image = Image.new("RGB", (PAD * 2 + cell_w * width, PAD * 2 + cell_h * len(lines)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for row, cells in enumerate(lines):
        y = PAD + row * cell_h
        for col, (ch, style) in enumerate(cells):
            x = PAD + col * cell_w
            fg = style["fg"] or FOREGROUND
            bg = style["bg"]
            if style["reverse"]:
                fg, bg = bg or BACKGROUND, fg
            if style["dim"]:
                fg = tuple((c + b) // 2 for c, b in zip(fg, BACKGROUND, strict=True))
            if bg:
                draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], fill=bg)
            if not ch.isspace():
                font = bold if style["bold"] else regular
                draw.text((x, y + (cell_h - (bottom - top)) // 2 - top), ch, font=font, fill=fg)
    image.save(out, optimize=True)


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    for tool in ("git", "tmux"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool}: apt-get install {tool}")
    if not (Path(sys.executable).parent / "dvc").is_file():
        sys.exit("needs dvc in this environment: pip install 'riskwatch[experiments]'")
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="riskwatch-dvc-"))
    try:
        project = tmp / "project"
        project.mkdir()
        env = _env()
        copy_checkout(project)
        build_experiments(project, env)
        screen = capture_terminal(project, tmp, env)
        render(parse_screen(screen), OUT)
    finally:
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{OUT} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
