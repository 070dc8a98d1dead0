"""p95 latency of the read API's theme and trend endpoints on a store with 1M feedback rows.

Fills a store with simulated feedback (insights.simulator: 200 items per hourly window, ~208 days for 1M rows),
its window counts (every theme x the whole stream, agent, team, journey stage, channel: ~2M rows) and themes with
lineage, bulk-inserted (PostgreSQL: COPY; SQLite: executemany), then serves the real API with uvicorn on a free
port and times sequential HTTP requests (httpx, keep-alive) per endpoint.

    .venv/bin/python benchmarks/api_latency.py                        # PostgreSQL at TEST_POSTGRES_URL
    .venv/bin/python benchmarks/api_latency.py --database-url sqlite:///build/bench.db --rows 1000000

On PostgreSQL it works in its own schema (--schema), dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insights.simulator import THEMES, FeedbackSimulator  # noqa: E402
from insights.store import InsightStore, create_db_engine  # noqa: E402
from insights.store.sample import _theme_events, feedback_row_of  # noqa: E402

START = datetime(2025, 6, 1, tzinfo=UTC)
DIMENSIONS = ("agent_id", "team", "journey_stage", "channel")
FEEDBACK_COLUMNS = ("feedback_id", "kind", "text", "event_time", "score", "score_type", "agent_id", "team",
                    "journey_stage", "channel", "customer_id", "ticket_id", "source", "product", "language",
                    "truncated", "extra_dimensions", "theme_id", "coarse_theme_id", "empathy_category", "similarity",
                    "received_at", "updated_at")
WC_COLUMNS = ("window_start", "theme_id", "dimension", "value", "window_end", "count", "total")


def generate(rows: int, seed: int, per_window: int, sink) -> tuple[list[tuple], dict]:
    """Feed feedback rows to ``sink`` in chunks; return the window counts (as the trend monitor makes them)."""
    sim = FeedbackSimulator(seed=seed, start=START, items_per_window=per_window, agents=40, teams=6)
    counts: dict[tuple, int] = defaultdict(int)
    empathy = {t.key for t in THEMES if t.empathy}
    sizes: dict[str, int] = defaultdict(int)
    quotes: dict[str, list[str]] = defaultdict(list)
    chunk: list[dict] = []
    for _ in range(rows):
        item = sim.next()
        row = feedback_row_of(item)
        chunk.append(row)
        sizes[item.truth] += 1
        if len(quotes[item.truth]) < 3:
            quotes[item.truth].append(item.text)
        win = item.event_time.replace(minute=0, second=0, microsecond=0)
        slices = [("__all__", "__all__")] + [(d, row[d]) for d in DIMENSIONS if row.get(d)]
        for dim, val in slices:
            counts[(win, "__all__", dim, val)] += 1
            counts[(win, item.truth, dim, val)] += 1
            if item.truth in empathy:
                counts[(win, "__empathy__", dim, val)] += 1
        if len(chunk) == 50_000:
            sink(chunk)
            chunk = []
    if chunk:
        sink(chunk)
    totals = {(w, d, v): n for (w, t, d, v), n in counts.items() if t == "__all__"}
    wc = [(w, t, d, v, w + timedelta(hours=1), n, totals[(w, d, v)]) for (w, t, d, v), n in counts.items()]
    return wc, {"sizes": sizes, "quotes": quotes, "last_event": sim.clock.isoformat()}


def fill(url: str, rows: int, seed: int, per_window: int) -> tuple[InsightStore, dict]:
    """Bulk-load: COPY on PostgreSQL, executemany on SQLite, then ANALYZE."""
    store = InsightStore.from_url(url)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    raw = store.engine.raw_connection()
    postgres = store.engine.dialect.name == "postgresql"
    try:
        cur = raw.cursor()
        if postgres:
            def sink(chunk: list[dict]) -> None:
                with cur.copy(f"COPY feedback ({', '.join(FEEDBACK_COLUMNS)}) FROM STDIN") as copy:
                    for r in chunk:
                        copy.write_row([*(json.dumps(r[c]) if c == "extra_dimensions" else r[c]
                                          for c in FEEDBACK_COLUMNS[:-2]), now, now])
        else:
            stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")

            def sink(chunk: list[dict]) -> None:
                cur.executemany(
                    f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) VALUES ({', '.join('?' * 23)})",
                    [tuple(_sqlite_value(r[c]) for c in FEEDBACK_COLUMNS[:-2]) + (stamp, stamp) for r in chunk])

        wc, info = generate(rows, seed, per_window, sink)
        t1 = time.perf_counter()
        if postgres:
            with cur.copy(f"COPY window_counts ({', '.join(WC_COLUMNS)}) FROM STDIN") as copy:
                for r in wc:
                    copy.write_row(r)
        else:
            cur.executemany(f"INSERT INTO window_counts ({', '.join(WC_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [tuple(_sqlite_value(x) for x in r) for r in wc])
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    store.apply_theme_events(_theme_events(START, info["quotes"], info["sizes"]))
    return store, {"feedback_rows": rows, "window_count_rows": len(wc), "generate_and_insert_feedback_s":
                   round(t1 - t0, 1), "insert_window_counts_s": round(time.perf_counter() - t1, 1),
                   "last_event": info["last_event"]}


def _sqlite_value(v):
    """What SQLAlchemy's SQLite types store: naive UTC text for datetimes, JSON text for dicts."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(store: InsightStore, requests: int, seed: int) -> dict[str, dict[str, float]]:
    import httpx
    import uvicorn

    from insights.api import create_api
    from insights.settings import Settings

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(Settings(api_token="bench"), store), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    rng = random.Random(seed)
    themes = [t.key for t in THEMES]
    agents = [f"a-{i:02d}" for i in range(1, 41)]
    endpoints = {
        "GET /api/themes": lambda: ("/api/themes", {}),
        "GET /api/themes/{id}": lambda: (f"/api/themes/{rng.choice(themes)}", {}),
        "GET /api/themes/{id}/trend (7 d, hourly)": lambda: (f"/api/themes/{rng.choice(themes)}/trend", {}),
        "GET /api/themes/{id}/trend (90 d, daily)": lambda: (
            f"/api/themes/{rng.choice(themes)}/trend", {"since": _since(90), "bucket": "1d"}),
        "GET /api/themes/{id}/trend (agent, 30 d)": lambda: (
            f"/api/themes/{rng.choice(themes)}/trend",
            {"since": _since(30), "dimension": "agent_id", "value": rng.choice(agents)}),
        "GET /api/trends (top 6, 7 d)": lambda: ("/api/trends", {"top": 6}),
        "GET /api/themes/top (30 d)": lambda: ("/api/themes/top", {"since": _since(30)}),
    }
    last = _last_window(store)

    def _since(days: int) -> str:
        return (last - timedelta(days=days)).isoformat()

    results = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench"},
                      timeout=30) as client:
        for name, make in endpoints.items():
            for _ in range(5):  # warm-up: connections, caches
                path, params = make()
                client.get(path, params=params).raise_for_status()
            times = []
            for _ in range(requests):
                path, params = make()
                t = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            results[name] = {"p50_ms": round(statistics.median(times), 1),
                             "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                             "p99_ms": round(times[int(0.99 * (len(times) - 1))], 1),
                             "max_ms": round(times[-1], 1), "n": len(times)}
    server.should_exit = True
    return results


def _last_window(store: InsightStore) -> datetime:
    from insights.store import queries as q

    return q.data_range(store.engine)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--schema", default="bench_api_latency", help="PostgreSQL schema to fill (dropped after)")
    parser.add_argument("--keep", action="store_true", help="Keep the filled schema/file")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-window", type=int, default=200, help="Feedback items per hourly window")
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per endpoint")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here")
    args = parser.parse_args()

    url, admin = args.database_url, None
    if url.startswith(("postgres://", "postgresql")):
        from sqlalchemy import text

        admin = create_db_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{args.schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{args.schema}"
    try:
        print(f"filling {args.rows:,} feedback rows into {args.database_url} ...", file=sys.stderr, flush=True)
        store, fill_info = fill(url, args.rows, args.seed, args.per_window)
        print(f"filled: {fill_info}", file=sys.stderr, flush=True)
        results = measure(store, args.requests, args.seed)
    finally:
        if admin is not None and not args.keep:
            with admin.begin() as conn:
                from sqlalchemy import text

                conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
    database = "PostgreSQL" if admin is not None else "SQLite"
    print(f"\nAPI latency on {database}, {fill_info['feedback_rows']:,} feedback rows, "
          f"{fill_info['window_count_rows']:,} window-count rows, {args.requests} sequential requests each")
    print(f"{'endpoint':48} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:48} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p99_ms']:8.1f} {r['max_ms']:8.1f}")
    if args.json:
        args.json.write_text(json.dumps({"database": database, "fill": fill_info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
