"""The warm answer of `newsbot ask --json -` as the archive grows.

For each size, the first N non-empty SaudiNewsNet articles are indexed (benchmarks/.work,
the model's vectors cached by text), then one `newsbot ask --json -` process is fed ARCD
questions and SaudiNewsNet headlines one at a time; each answer is timed from writing the
question to reading the answer line, after a few answers of warm-up. Records a table in
benchmarks/RESULTS.md.

    uv run python benchmarks/answer_latency.py [--sizes 240,1500,11263] [--queries 100]
        [--vectors-from DATA_DIR]

`--vectors-from` takes the vectors of an index of these articles (for instance the one
`benchmarks/scale.py --keep DIR` built, in DIR/data) into the cache first, so that no
size embeds anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from benchmark_data import (
    WORK_DIR,
    add_data_option,
    load_benchmark,
    remember_index,
    saudinewsnet_articles,
    work_engine,
)
from evaluation import machine_description, markdown_table, record
from retrieval import RESULTS, settings_note
from scale import ANSWER_TARGET_MS, CLI_WARM_UP, cli_answer_seconds


def sizes_of(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of article counts") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of article counts")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=sizes_of, default=[240, 1500, 11263])
    parser.add_argument("--queries", type=int, default=100, help="questions per set and size")
    parser.add_argument("--vectors-from", type=Path, default=None, metavar="DATA_DIR")
    add_data_option(parser)
    args = parser.parse_args()

    benchmark = load_benchmark(args.data)
    described = machine_description()
    if args.vectors_from:
        started = time.perf_counter()
        held = remember_index(args.vectors_from)
        print(f"cached the vectors of {held:,} passages ({time.perf_counter() - started:.0f} s)")
    everything = list(saudinewsnet_articles(benchmark.root, max(args.sizes)))
    arcd = [q.text for q in benchmark.questions["ARCD"]][: args.queries + CLI_WARM_UP]
    rows = []
    for size in args.sizes:
        articles = everything[:size]
        headlines = [a.text.split("\n", 1)[0] for a in articles[:: max(1, size // args.queries)]]
        headlines = [h for h in headlines if h.strip()][: args.queries + CLI_WARM_UP]
        name = f"saudinewsnet-{size}"
        started = time.perf_counter()
        engine = work_engine(name, [(a.source, a.text) for a in articles])
        indexed = time.perf_counter() - started
        passages = len(engine.index.snapshot())
        data_dir = engine.settings.data_dir
        del engine
        corpus = WORK_DIR / name / "articles"
        row = [f"{len(articles):,}", f"{passages:,}", f"{indexed:.0f} s"]
        for questions in (arcd, headlines):
            seconds = np.array(cli_answer_seconds(data_dir, corpus, questions)) * 1000
            p50, p95 = np.percentile(seconds, 50), np.percentile(seconds, 95)
            verdict = "met" if p50 <= ANSWER_TARGET_MS else "NOT met"
            row.append(f"{p50:.0f} / {p95:.0f} ms ({verdict})")
            print(f"{size} articles: {p50:.0f} / {p95:.0f} ms", flush=True)
        rows.append(row)

    command = "uv run python benchmarks/answer_latency.py"
    if args.sizes != [240, 1500, 11263]:
        command += " --sizes " + ",".join(map(str, args.sizes))
    if args.queries != 100:
        command += f" --queries {args.queries}"
    if args.vectors_from:
        command += " --vectors-from DATA_DIR"
    overrides = settings_note()
    text = "\n".join(
        [
            "## Warm answer latency by archive size",
            "",
            f"`{command}` — {described}.",
            "",
            "The first N non-empty SaudiNewsNet articles, indexed with the default settings; "
            f"one `newsbot ask --json -` process per size and set, {args.queries} questions "
            f"each after {CLI_WARM_UP} of warm-up, each answer timed from writing the question "
            "to reading the answer line (index build: vectors from the benchmark's cache, "
            f"so it is not an ingest time; that is `benchmarks/scale.py`'s). Target: p50 ≤ "
            f"{ANSWER_TARGET_MS:g} ms at 11,263 articles.{overrides}",
            "",
            markdown_table(
                [
                    "articles",
                    "passages",
                    "index build",
                    "ARCD questions (Arabic): p50 / p95",
                    "SaudiNewsNet headlines: p50 / p95",
                ],
                rows,
            ),
            "",
        ]
    )
    print(text)
    record(RESULTS, "answer-latency", text)


if __name__ == "__main__":
    if "NEWSBOT_DATA_DIR" in os.environ:
        sys.exit("benchmarks: unset NEWSBOT_DATA_DIR; each size has its own index")
    main()
