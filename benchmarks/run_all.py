"""Run every benchmark, one after another, and print the figure each one ends with.

    .venv/bin/python benchmarks/run_all.py            # everything (about 50 minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick    # smaller sizes, about 15 minutes
    .venv/bin/python benchmarks/run_all.py --only throughput discovery

Benchmarks compete for the CPU, so they never run at the same time; run them on a machine doing nothing else.
Each one compares against its reference in the same run (raw ``model.encode``, BERTopic, scipy...), so ratios
stay meaningful on any machine. Full output goes to ``build/bench/<name>.log``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (full arguments, quick arguments); the order puts the cheap, deterministic ones first
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "pii": ([], ["--seconds", "1"]),
    "hot_path": ([], ["--messages", "5000", "--texts", "1000"]),
    "discovery": (["--memory", "--runs", "3"], []),
    "other_datasets": ([], ["--sample", "1500"]),
    "empathy": ([], ["--items", "3000"]),
    "alerts": ([], ["--trials", "40", "--agent-trials", "10"]),
    "impact": (["--seeds", "40"], []),
    "throughput-none": (["--repeats", "none", "--messages", "10000"], ["--repeats", "none", "--messages", "2000"]),
    "throughput": (["--repeats", "realistic", "--messages", "5000"],
                   ["--repeats", "realistic", "--messages", "2000"]),
    "api_latency": ([], ["--rows", "100000", "--requests", "50"]),
    "load": (["--minutes", "10"], ["--minutes", "2", "--calibrate", "1000"]),
}


def script_of(name: str) -> Path:
    return ROOT / "benchmarks" / f"{name.split('-')[0]}.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run, not figures to quote")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()

    out_dir = ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.only or list(BENCHMARKS)
    results: list[tuple[str, int, float, str]] = []
    for name in names:
        full, quick = BENCHMARKS[name]
        command = [sys.executable, str(script_of(name)), *(quick if args.quick else full)]
        log_path = out_dir / f"{name}.log"
        print(f"== {name}: {' '.join(command[1:])} (log: {log_path.relative_to(ROOT)})", flush=True)
        started = time.perf_counter()
        with log_path.open("w", encoding="utf-8") as log:
            proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
            log.write(proc.stdout)
        seconds = time.perf_counter() - started
        print(proc.stdout.rstrip(), flush=True)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        results.append((name, proc.returncode, seconds, lines[-1] if lines else "(no output)"))

    print("\n== summary")
    for name, code, seconds, last in results:
        status = "ok" if code == 0 else f"FAILED ({code})"
        print(f"{name:<16} {status:<12} {seconds:7.0f}s  {last}")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
