"""A cold `newsbot ask --json` beside a cold `python -c "import chromadb"`, in pairs.

    uv run python benchmarks/cold_start.py [--runs 5] [--base DIR]

Indexes seeds/ twice in temporary data dirs, with the bundled model (the default setup) and
with the hashing embedding (lexical-only). Then, N times in turn, runs one fresh
`newsbot ask --json QUESTION` per setup, each followed by a fresh `python -c "import
chromadb"`: both cold processes, run one after the other so that a busy machine slows both
alike. Prints the medians, and the ratio of the ask's median to the import's (targets: at
most 1.5 for the default setup, 1.2 lexical-only), and records them in
benchmarks/RESULTS.md (section "cold-start"). The CPU time each process used (user and
system, all its threads) is shown beside the wall-clock time: on a machine that others keep
busy it moves less.

`--base DIR`: also time the `newsbot` of another checkout with its own environment (made
with `git worktree add --detach DIR COMMIT` and `uv sync` there), in the same rounds, over
indexes it builds itself; its answers must be the same as this checkout's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import PROJECT_ROOT
from evaluation import machine_description, markdown_table, record

RESULTS = Path(__file__).with_name("RESULTS.md")
QUESTION = "What did Microsoft promise about data storage?"
SETUPS = {"default": {}, "lexical-only": {"NEWSBOT_EMBEDDING_PROVIDER": "hashing"}}
TARGETS = {"default": 1.5, "lexical-only": 1.2}


@dataclass
class Subject:
    """One checkout's `newsbot` in one setup, and what it was timed at."""

    checkout: str
    setup: str
    newsbot: Path
    env: dict[str, str]
    ask: list[Run] = field(default_factory=list)
    chromadb: list[Run] = field(default_factory=list)
    answer: str = ""


@dataclass(frozen=True)
class Run:
    """One process: wall-clock seconds, and the CPU seconds it used."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[Run, str]:
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    run = Run(time.perf_counter() - started, _children_cpu() - cpu)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return run, result.stdout


def newsbot_of(checkout: Path) -> Path:
    script = checkout / ".venv" / "bin" / "newsbot"
    if not script.is_file():
        sys.exit(f"no {script}: run `uv sync --locked` in {checkout} first")
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="pairs per setup (default 5)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--base", type=Path, help="another checkout to time in the same rounds")
    options = parser.parse_args()

    checkouts = {"this checkout": PROJECT_ROOT}
    if options.base:
        checkouts[f"base ({_head(options.base)})"] = options.base.resolve()
    machine = machine_description()  # with the load average before anything runs
    python = str(Path(sys.executable))
    import_chromadb = [python, "-c", "import chromadb"]
    with tempfile.TemporaryDirectory(prefix="newsbot-cold-start-") as temporary:
        root = Path(temporary)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        subjects: list[Subject] = []
        for number, (name, checkout) in enumerate(checkouts.items()):
            for setup, extra in SETUPS.items():
                env = clean | extra
                env["NEWSBOT_DATA_DIR"] = str(root / f"{number}-{setup}")
                env["NEWSBOT_CORPUS_DIR"] = str(PROJECT_ROOT / "seeds")
                subject = Subject(name, setup, newsbot_of(checkout), env)
                print(f"indexing seeds/ for {name}, {setup}…", file=sys.stderr)
                timed([str(subject.newsbot), "ingest"], env, root)
                subjects.append(subject)
        load_before = os.getloadavg()[0]
        # One run of each, untimed, so that every one timed finds its files in the page cache.
        for subject in subjects:
            subject.answer = timed(
                [str(subject.newsbot), "ask", "--json", options.question], subject.env, root
            )[1]
        timed(import_chromadb, clean, root)
        for round_number in range(options.runs):
            print(f"round {round_number + 1} of {options.runs}…", file=sys.stderr)
            for subject in subjects:
                run, answer = timed(
                    [str(subject.newsbot), "ask", "--json", options.question], subject.env, root
                )
                if answer != subject.answer:
                    sys.exit(
                        f"{subject.checkout}, {subject.setup}: the answer changed between runs"
                    )
                subject.ask.append(run)
                subject.chromadb.append(timed(import_chromadb, clean, root)[0])
        load_after = os.getloadavg()[0]

    rows = []
    for subject in subjects:
        ask = statistics.median(run.wall for run in subject.ask)
        chromadb = statistics.median(run.wall for run in subject.chromadb)
        ratio = ask / chromadb
        pairs = statistics.median(
            a.wall / c.wall for a, c in zip(subject.ask, subject.chromadb, strict=True)
        )
        cpu_ratio = statistics.median(run.cpu for run in subject.ask) / statistics.median(
            run.cpu for run in subject.chromadb
        )
        target = TARGETS[subject.setup]
        rows.append(
            [
                subject.checkout,
                subject.setup,
                f"{ask:.2f} ({_spread(subject.ask)})",
                f"{chromadb:.2f} ({_spread(subject.chromadb)})",
                f"**{ratio:.2f}**",
                f"{pairs:.2f}",
                f"{cpu_ratio:.2f}",
                f"≤ {target} {'met' if ratio <= target else 'not met'}",
            ]
        )
    same = _same_answers(subjects)
    text = "\n".join(
        [
            "## Cold start: `newsbot ask --json` against `import chromadb`",
            "",
            f"`uv run python benchmarks/cold_start.py --runs {options.runs}"
            f"{' --base ' + str(options.base) if options.base else ''}` — "
            f"{machine}; load average {load_before:.1f} when the timed runs began and "
            f"{load_after:.1f} at the end.",
            "",
            f'Each round runs, for each row, a fresh `newsbot ask --json "{options.question}"` '
            'over the seeds, indexed beforehand, then a fresh `python -c "import chromadb"`; '
            f"{options.runs} rounds. Wall-clock seconds, median (min–max); the ratio is the "
            "ask's median over the import's; the CPU time ratio, the same for the CPU seconds "
            "each process used.",
            "",
            markdown_table(
                [
                    "checkout",
                    "setup",
                    "cold ask, s",
                    "import chromadb, s",
                    "ratio",
                    "median of the pairs' ratios",
                    "CPU time ratio",
                    "target",
                ],
                rows,
            ),
            "",
            *(
                [
                    "The base checkout was made with `git worktree add --detach DIR COMMIT` and "
                    "`uv sync --locked` in it. " + same,
                    "",
                ]
                if options.base
                else []
            ),
        ]
    )
    print(text)
    record(RESULTS, "cold-start", text)
    print(f"recorded in {RESULTS}")


def _spread(runs: list[Run]) -> str:
    return f"{min(run.wall for run in runs):.2f}–{max(run.wall for run in runs):.2f}"


def _same_answers(subjects: list[Subject]) -> str:
    """Whether each setup's answer is the same in every checkout (their JSON, parsed)."""
    if len({subject.checkout for subject in subjects}) < 2:
        return ""
    lines = []
    for setup in SETUPS:
        answers = [json.loads(s.answer) for s in subjects if s.setup == setup]
        same = all(answer == answers[0] for answer in answers)
        lines.append(
            f"{setup}: the answer is {'the same' if same else 'NOT the same'} in both checkouts."
        )
    return " ".join(lines)


def _head(checkout: Path) -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or checkout.name


if __name__ == "__main__":
    main()
