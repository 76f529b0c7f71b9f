"""Cold start of `newsbot ask` and warm per-question time of `newsbot ask --json -`.

    uv run python benchmarks/cli_latency.py [--runs 5]

Builds an index of seeds/ in a temporary data dir, then:
- first run: `newsbot ask` on an empty data dir (indexing included);
- cold start: `newsbot ask QUESTION` with the index built (process start to exit);
- warm: one `newsbot ask --json -` process fed the questions of seeds/questions.jsonl one
  at a time, timing each answer line from the moment its question was written.
Prints a table and writes it to benchmarks/cli_latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ask import NEWSBOT, ask_json_seconds
from _machine import PROJECT_ROOT, header

QUESTION = "What did Microsoft promise about data storage?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_run(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(NEWSBOT), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold-start runs (default 5)")
    options = parser.parse_args()

    questions = [
        json.loads(line)["question"]
        for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env.update(NEWSBOT_DATA_DIR=f"{tmp}/data", NEWSBOT_CORPUS_DIR=str(PROJECT_ROOT / "seeds"))
        first = timed_run(env, "ask", QUESTION)
        cold = [timed_run(env, "ask", QUESTION) for _ in range(options.runs)]

        # The first answer pays for loading the index.
        warm = ask_json_seconds(env, questions, warm_up=1)

    rows = [
        ("first run (index seeds + answer)", f"{first:.2f} s", "1 run"),
        (
            "cold start `newsbot ask`",
            f"median {statistics.median(cold):.2f} s (min {min(cold):.2f}, max {max(cold):.2f})",
            f"{len(cold)} runs",
        ),
        (
            "warm `ask --json -` per question",
            f"p50 {percentile(warm, 0.5) * 1e3:.1f} ms, p95 {percentile(warm, 0.95) * 1e3:.1f} ms",
            f"{len(warm)} questions",
        ),
    ]
    table = ["| measurement | time | sample |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    report = header("newsbot ask latency") + "\n" + "\n".join(table) + "\n"
    print(report)
    (Path(__file__).with_name("cli_latency.md")).write_text(
        "# CLI latency\n\nCommand: `uv run python benchmarks/cli_latency.py`\n\n" + report,
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
