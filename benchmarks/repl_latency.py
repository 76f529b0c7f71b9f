"""Start-up and warm per-question time of `newsbot repl`, driven in a real pseudo-terminal.

    uv run python benchmarks/repl_latency.py [--sessions 2]

Builds an index of seeds/ in a temporary data dir, then starts `newsbot repl` in a
160×50 pseudo-terminal (pexpect) --sessions times and asks each session every question of
seeds/questions.jsonl, one after the other, as a person at the prompt would:
- start-up: from launching the process to the first prompt (imports, opening the index);
- per question: from pressing Enter to the next prompt, the answer and its sources drawn
  (the first question of a session included: the REPL opens both indexes before its
  first prompt).
Prints a table and writes it to benchmarks/repl_latency.md.
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

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import PROJECT_ROOT, header

NEWSBOT = Path(sys.executable).with_name("newsbot")
# prompt_toolkit redraws the prompt while a line is edited; each new prompt switches
# bracketed paste on first, so that marks the REPL being ready for the next question.
NEW_PROMPT = "\x1b[?2004h"
PROMPT = "newsbot>"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_for_prompt(child: pexpect.spawn) -> None:
    child.expect_exact(NEW_PROMPT)
    child.expect_exact(PROMPT)


def run_session(
    env: dict[str, str], questions: list[dict[str, str]]
) -> tuple[float, list[tuple[str, float]]]:
    started = time.perf_counter()
    child = pexpect.spawn(
        str(NEWSBOT), ["repl"], env=env, encoding="utf-8", dimensions=(50, 160), timeout=120
    )
    child.delaybeforesend = None  # pexpect's default 50 ms pause before each write
    wait_for_prompt(child)
    startup = time.perf_counter() - started
    timings = []
    for question in questions:
        started = time.perf_counter()
        child.sendline(question["question"])
        wait_for_prompt(child)
        timings.append((question["language"], time.perf_counter() - started))
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return startup, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2, help="REPL sessions (default 2)")
    options = parser.parse_args()

    questions = [
        json.loads(line)
        for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env.update(
            NEWSBOT_DATA_DIR=f"{tmp}/data",
            NEWSBOT_CORPUS_DIR=str(PROJECT_ROOT / "seeds"),
            NEWSBOT_STATE_DIR=f"{tmp}/state",
            TERM="xterm-256color",
            # Nothing answers prompt_toolkit's cursor-position requests in a pexpect pty (a
            # real terminal answers at once); saying so spares a 1 s wait per prompt.
            PROMPT_TOOLKIT_NO_CPR="1",
        )
        ingest = subprocess.run([str(NEWSBOT), "ingest"], env=env, capture_output=True, text=True)
        if ingest.returncode != 0:
            sys.exit(f"newsbot ingest failed: {ingest.stderr.strip()}")
        startups: list[float] = []
        timings: list[tuple[str, float]] = []
        for _ in range(options.sessions):
            startup, answered = run_session(env, questions)
            startups.append(startup)
            timings.extend(answered)

    load = os.getloadavg()[0]
    rows = [
        (
            "start-up to the first prompt",
            f"median {statistics.median(startups):.2f} s "
            f"(min {min(startups):.2f}, max {max(startups):.2f})",
            f"{len(startups)} sessions",
        )
    ]
    groups = [("all", [t for _, t in timings])] + [
        (language, [t for code, t in timings if code == language])
        for language in ("ar", "fr", "en")
    ]
    for name, values in groups:
        if values:
            rows.append(
                (
                    f"per question, Enter to next prompt ({name})",
                    f"p50 {percentile(values, 0.5) * 1e3:.0f} ms, "
                    f"p95 {percentile(values, 0.95) * 1e3:.0f} ms, "
                    f"max {max(values) * 1e3:.0f} ms",
                    f"{len(values)} questions",
                )
            )
    table = ["| measurement | time | sample |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    report = (
        header("newsbot repl latency")
        + f"- load average at the end: {load:.2f} (other work on the machine slows every figure)\n"
        + "\n"
        + "\n".join(table)
        + "\n"
    )
    print(report)
    Path(__file__).with_name("repl_latency.md").write_text(
        "# REPL latency\n\nCommand: `uv run python benchmarks/repl_latency.py`\n\n" + report,
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
