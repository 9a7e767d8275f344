"""CPU time per POST /prediction, riskwatch against the floor's app, in one process each.

Through Flask's test client (no sockets, no server: the apps' own work), on a project that
bench_serving.py's `make_project` made (its riskwatch.toml, model v1 and a predict token):
riskwatch's app as the Procfile serves it, every prediction stored, and the floor's app
(serving_floor.py) on the same model and the same records. CPU time (time.process_time, every
thread of the process: riskwatch's committer too) is what the machine's other work moves least;
the benchmark's throughput under 16 clients on 2 CPUs is bounded by it.

    .venv/bin/python bench/serving_cpu.py PROJECT_DIR TOKEN [--app riskwatch|floor]
        [--records 1 100] [--requests N] [--profile FILE]

One app per process (`--app`), so neither pays for the other's imports or caches. Prints
JSON: per record count, the median over 5 rounds of the CPU milliseconds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_serving import records  # noqa: E402

ROUNDS = 5


def _app(name: str, project: Path) -> object:
    if name == "floor":
        meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
        os.environ["FLOOR_MODEL"] = str(project / "models" / "1" / "model.joblib")
        os.environ["FLOOR_FEATURES"] = ",".join(
            [*meta["features"]["numeric"], *meta["features"]["categorical"]]
        )
        import serving_floor

        return serving_floor.app
    os.environ["RISKWATCH_CONFIG"] = str(project / "riskwatch.toml")
    os.chdir(project)
    from app import create_app, warm_up

    app = create_app()
    warm_up(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("token")
    parser.add_argument("--app", choices=("riskwatch", "floor"), default="riskwatch")
    parser.add_argument("--records", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--requests", type=int, default=300, help="per round")
    parser.add_argument("--profile", help="cProfile the last round into this file")
    args = parser.parse_args()
    project = args.project.resolve()
    app = _app(args.app, project)
    client = app.test_client()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {args.token}"}
    out: dict[str, object] = {"app": args.app, "project": str(project)}
    for n in args.records:
        body = json.dumps(records(project, n)).encode()
        send = {"data": body, "headers": headers, "content_type": "application/json"}
        for _ in range(20):  # warm-up: first-call set-up, caches
            assert client.post("/prediction", **send).status_code == 200
        per_round = []
        for r in range(ROUNDS):
            profiler = None
            if args.profile and r == ROUNDS - 1:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            t0 = time.process_time()
            for _ in range(args.requests):
                resp = client.post("/prediction", **send)
                if resp.status_code != 200:
                    raise SystemExit(f"{resp.status_code}: {resp.get_data(as_text=True)}")
            per_round.append((time.process_time() - t0) / args.requests * 1000)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{args.profile}.{n}")
        out[f"{n}_records_cpu_ms"] = round(statistics.median(per_round), 3)
        out[f"{n}_records_rounds"] = [round(x, 3) for x in per_round]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
