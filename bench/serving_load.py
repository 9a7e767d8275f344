"""A closed-loop HTTP load generator for bench_serving.py: standard library only.

`concurrency` client threads, each on its own kept-alive connection, send the same request
back to back for a fixed time after a warm-up; every answer must be a 200. Run as its own
process (`python serving_load.py URL BODY_FILE CONCURRENCY SECONDS [HEADER ...]`), it prints one
JSON object: requests per second, latency percentiles, errors. The same client measures every
server, so what it costs is the same for each.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

WARM_UP_SECONDS = 2.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def load(
    url: str, body: bytes, headers: dict[str, str], concurrency: int, seconds: float
) -> dict[str, object]:
    """Send POSTs of `body` to `url` from `concurrency` threads for `seconds` (after a warm-up)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    send = {"Content-Type": "application/json", **headers}
    start = threading.Barrier(concurrency + 1)
    begin_at: list[float] = []
    end_at: list[float] = []
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []
    answered = [0] * concurrency  # every 200, the warm-up's too: what the server must have stored

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        start.wait()
        while True:
            now = time.perf_counter()
            if now >= end_at[0]:
                break
            try:
                conn.request("POST", path, body=body, headers=send)
                resp = conn.getresponse()
                answer = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                continue
            took = time.perf_counter() - now
            if resp.status != 200:
                errors.append(f"{resp.status}: {answer[:200]!r}")
                continue
            answered[i] += 1
            if now >= begin_at[0]:
                latencies[i].append(took)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    begin_at.append(t0 + WARM_UP_SECONDS)
    end_at.append(t0 + WARM_UP_SECONDS + seconds)
    start.wait()
    for t in threads:
        t.join()
    done = sorted(x for each in latencies for x in each)
    return {
        "requests": len(done),
        "requests_per_second": len(done) / seconds,
        "p50_ms": 1000 * _percentile(done, 0.50),
        "p99_ms": 1000 * _percentile(done, 0.99),
        "mean_ms": 1000 * statistics.fmean(done) if done else float("nan"),
        "answered": sum(answered),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def main() -> None:
    url, body_file, concurrency, seconds, *header_args = sys.argv[1:]
    headers = dict(h.split(": ", 1) for h in header_args)
    with open(body_file, "rb") as fh:
        body = fh.read()
    print(json.dumps(load(url, body, headers, int(concurrency), float(seconds))))


if __name__ == "__main__":
    main()
