"""What the reader sees first: is the answer's first citation the paragraph that answers?

The public pool of benchmarks/retrieval.py (every XQuAD-en, XQuAD-ar, ARCD and PIAF
paragraph, one article file each) is indexed with `newsbot ingest`, and a fixed sample of
each set's questions is asked through `newsbot ask --json -`. Beside the answer's first
citation, the same run measures the retriever's own R@1 (`Engine.search`, the ranking the
answer is composed from) and stock llama-index's (`BM25Retriever`, first retrieved): an
answer should cite first what the retriever ranks first, whatever sentence it quotes.

    uv run python benchmarks/first_citation.py                      # 80 questions per set
    uv run python benchmarks/first_citation.py --ci --fail-under 0.9 # CI's small fixed pool

`--ci` takes a small pool (the paragraphs of each set's first articles and 40 questions
per set on them) that CI can index in about two minutes, and `--fail-under X` fails when,
on any set, the first citation is the gold less often than X times the retriever's R@1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmark_data import Benchmark, Question, add_data_option, load_benchmark, work_engine
from evaluation import llama_index_bm25_ranker, machine_description, markdown_table, record

RESULTS = Path(__file__).with_name("RESULTS.md")
NEWSBOT = Path(sys.executable).with_name("newsbot")
QUESTIONS_PER_SET = 80
CI_ARTICLES_PER_SET = 3
CI_QUESTIONS_PER_SET = 40


def pool_of(
    benchmark: Benchmark, ci: bool
) -> tuple[list[tuple[str, str]], dict[str, list[Question]]]:
    """The articles indexed and the questions asked, per set."""
    if not ci:
        documents = [(p.source, p.text) for p in benchmark.paragraphs]
        asked = {
            name: random.Random(name).sample(questions, min(QUESTIONS_PER_SET, len(questions)))
            for name, questions in benchmark.questions.items()
        }
        return documents, asked
    kept = [p for p in benchmark.paragraphs if p.article < CI_ARTICLES_PER_SET]
    sources = {p.source for p in kept}
    asked = {}
    for name, questions in benchmark.questions.items():
        mine = [q for q in questions if q.gold in sources]
        asked[name] = random.Random(name).sample(mine, min(CI_QUESTIONS_PER_SET, len(mine)))
    return [(p.source, p.text) for p in kept], asked


def first_cited(articles: Path, data: Path, questions: Sequence[str]) -> list[str | None]:
    """The first citation's source of each answer through `newsbot ask --json -` (None:
    refused)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(NEWSBOT_DATA_DIR=str(data), NEWSBOT_CORPUS_DIR=str(articles))
    done = subprocess.run(
        [str(NEWSBOT), "ask", "--json", "-"],
        env=env,
        input="".join(" ".join(q.split()) + "\n" for q in questions),
        capture_output=True,
        text=True,
    )
    replies = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(replies) != len(questions):
        sys.exit(f"first_citation: {len(replies)} answers to {len(questions)} questions")
    return [
        (reply["citations"][0]["source"] if reply.get("citations") else None) for reply in replies
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_option(parser)
    parser.add_argument("--ci", action="store_true", help="the small fixed pool CI checks")
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="X",
        help="exit 1 when, on a set, first-citation hit@1 < X × the retriever's R@1",
    )
    options = parser.parse_args()
    if options.ci and not options.data.is_dir():
        print(f"first_citation: no benchmark sets at {options.data}; skipped")
        return
    benchmark = load_benchmark(options.data)
    documents, asked = pool_of(benchmark, options.ci)
    name = "first-citation-ci" if options.ci else "pool"
    engine = work_engine(name, documents)
    articles = engine.settings.corpus_dir
    stock = llama_index_bm25_ranker(documents)
    rows = []
    failed = []
    with tempfile.TemporaryDirectory():
        for set_name, questions in asked.items():
            texts = [q.text for q in questions]
            cited = first_cited(articles, engine.settings.data_dir, texts)
            first = sum(c == q.gold for c, q in zip(cited, questions, strict=True)) / len(texts)
            retrieved = [engine.search(text, top_k=1) for text in texts]
            r_at_1 = sum(
                bool(r) and r[0].source == q.gold for r, q in zip(retrieved, questions, strict=True)
            ) / len(texts)
            stock_at_1 = sum((stock(q.text) or [None])[0] == q.gold for q in questions) / len(texts)
            refused = sum(c is None for c in cited) / len(texts)
            rows.append(
                [
                    set_name,
                    str(len(texts)),
                    f"{first:.3f}",
                    f"{r_at_1:.3f}",
                    f"{stock_at_1:.3f}",
                    f"{refused:.3f}",
                ]
            )
            print(markdown_table(HEADER, rows[-1:]), flush=True)
            if options.fail_under is not None and first < options.fail_under * r_at_1:
                failed.append(f"{set_name}: {first:.3f} < {options.fail_under} × {r_at_1:.3f}")
    table = markdown_table(HEADER, rows)
    print(table)
    if not options.ci:
        record(
            RESULTS,
            "first-citation",
            "\n".join(
                [
                    "## What the reader sees first: the answer's first citation",
                    "",
                    f"`uv run python benchmarks/first_citation.py` — {machine_description()}.",
                    "",
                    f"The pool of `retrieval.py` ({len(documents):,} paragraphs), "
                    f"{QUESTIONS_PER_SET} questions per set drawn at random (fixed), asked "
                    "through `newsbot ask --json -` (default setup). First citation: the "
                    "answer's [1] is the paragraph the question was written on (a refusal "
                    "counts as a miss). Retriever R@1: the first passage of `Engine.search`, "
                    "in the same run. Stock: llama-index `BM25Retriever`, first retrieved.",
                    "",
                    table,
                    "",
                ]
            ),
        )
    if failed:
        sys.exit(
            "first_citation: the first citation falls behind the retriever: " + "; ".join(failed)
        )


HEADER = [
    "set",
    "questions",
    "first citation is the gold",
    "retriever R@1",
    "stock BM25 R@1",
    "refused",
]


if __name__ == "__main__":
    main()
