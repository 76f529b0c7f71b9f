"""Retrieval quality of newsbot beside stock llama-index, on public benchmarks.

Builds the pool of every XQuAD-en, XQuAD-ar, ARCD and PIAF paragraph from
../shared/benchmarks, indexes it with `newsbot ingest`'s code path (one article file
per paragraph) and with llama-index's `BM25Retriever.from_defaults(nodes=...,
similarity_top_k=20)`, asks both every question, and prints and records in
benchmarks/RESULTS.md Recall@1/5/20, MRR@10 and per-query latency per set, with the
share of answerable questions newsbot abstains on and of the project's unanswerable
questions it rightly abstains on.

    uv run python benchmarks/retrieval.py                     # the pool
    uv run python benchmarks/retrieval.py --distractors 10000 # + 10,000 SaudiNewsNet articles
    uv run python benchmarks/retrieval.py --cross             # XQuAD-en questions, Arabic pool
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark_data import (
    PROJECT_ROOT,
    Benchmark,
    Question,
    add_data_option,
    add_distractors_option,
    load_benchmark,
    reported_sets,
    saudinewsnet_articles,
    tuning_split,
    write_articles,
)
from evaluation import (
    SetResult,
    evaluate,
    llama_index_bm25_ranker,
    machine_description,
    markdown_table,
    newsbot_ranker,
    record,
)

if TYPE_CHECKING:
    from rag.engine import Engine

RESULTS = Path(__file__).with_name("RESULTS.md")
TARGETS = {"XQuAD-en": 0.96, "XQuAD-ar": 0.92, "ARCD": 0.80, "PIAF": 0.80}
BASELINE = "llama-index BM25Retriever (stock)"
NEWSBOT = "newsbot (default offline setup)"


def build_engine(root: Path, documents: Sequence[tuple[str, str]]) -> tuple[Engine, str]:
    """An engine over `documents` written as article files and ingested; and a summary."""
    from rag.engine import Engine
    from rag.settings import load_settings

    corpus = root / "articles"
    write_articles(corpus, iter(documents))
    engine = Engine(load_settings(data_dir=root / "data", corpus_dir=corpus))
    started = time.perf_counter()
    report = engine.ingest()
    seconds = time.perf_counter() - started
    summary = (
        f"{report.articles:,} articles, {report.passages:,} passages, ingested in {seconds:.0f} s"
    )
    print(f"newsbot: {summary}", flush=True)
    return engine, summary


def abstention_rate(engine: Engine, questions: Sequence[str]) -> float:
    if not questions:
        return 0.0
    return sum(1 for question in questions if engine.ask(question).abstained) / len(questions)


def seed_abstention(root: Path) -> tuple[float, float, int, int]:
    """Abstention on the project's unanswerable seed questions and on its answerable ones."""
    from rag.engine import Engine
    from rag.settings import load_settings

    records = [
        json.loads(line)
        for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    engine = Engine(load_settings(data_dir=root / "seed-data", corpus_dir=PROJECT_ROOT / "seeds"))
    engine.ingest()
    unanswerable = [r["question"] for r in records if not r["answerable"]]
    answerable = [r["question"] for r in records if r["answerable"]]
    return (
        abstention_rate(engine, unanswerable),
        abstention_rate(engine, answerable),
        len(unanswerable),
        len(answerable),
    )


def result_rows(
    results: dict[str, dict[str, SetResult]], targets: dict[str, float]
) -> list[list[str]]:
    rows = []
    for name, by_system in results.items():
        for system, result in by_system.items():
            target = ""
            if system == NEWSBOT and name in targets:
                met = result.mrr >= targets[name]
                target = f"≥ {targets[name]:.2f} {'met' if met else 'NOT met'}"
            rows.append([name, f"{result.questions:,}", system, *result.cells(), target])
    return rows


HEADER = [
    "set",
    "questions",
    "retriever",
    "R@1",
    "R@5",
    "R@20",
    "MRR@10",
    "ms/query p50 / p95",
    "target (MRR@10)",
]


def distractor_documents(benchmark: Benchmark, count: int) -> list[tuple[str, str]]:
    """The first `count` non-empty SaudiNewsNet articles, as (file name, text)."""
    if not count:
        return []
    return [(a.source, a.text) for a in saudinewsnet_articles(benchmark.root, count)]


def run_pool(benchmark: Benchmark, distractors: int) -> tuple[str, str]:
    """The main comparison; returns the section name and its Markdown."""
    documents = [(p.source, p.text) for p in benchmark.paragraphs]
    news = distractor_documents(benchmark, distractors)
    if len(news) < distractors:
        print(f"only {len(news):,} SaudiNewsNet articles are available", flush=True)
    documents += news
    _, held_out = tuning_split(benchmark)
    sets = reported_sets(benchmark)
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as temporary:
        root = Path(temporary)
        engine, summary = build_engine(root, documents)
        baseline = llama_index_bm25_ranker(documents)
        ours = newsbot_ranker(engine)
        ours("warm up")
        results: dict[str, dict[str, SetResult]] = {}
        for name, questions in {**sets, **held_out}.items():
            results[name] = {
                BASELINE: evaluate(name, baseline, questions),
                NEWSBOT: evaluate(name, ours, questions),
            }
            print(markdown_table(HEADER, result_rows({name: results[name]}, TARGETS)), flush=True)
        asked = [q.text for questions in sets.values() for q in questions]
        started = time.perf_counter()
        false_abstention = abstention_rate(engine, asked)
        ask_ms = (time.perf_counter() - started) / max(len(asked), 1) * 1000
        unanswerable, seed_false, n_unanswerable, n_answerable = seed_abstention(root)

    title = "Pool" if not distractors else f"Pool + {len(news):,} SaudiNewsNet distractors"
    section = f"retrieval-distractors-{distractors}" if distractors else "retrieval"
    command = "uv run python benchmarks/retrieval.py" + (
        f" --distractors {distractors}" if distractors else ""
    )
    reported, held = list(sets), list(held_out)
    lines = [
        f"## {title}",
        "",
        f"`{command}` — {machine_description()}.",
        "",
        f"Pool: {len(benchmark.paragraphs):,} paragraphs"
        + (f" and {len(news):,} news articles" if news else "")
        + f"; newsbot: {summary}. The gold of a question is the paragraph it was written on; "
        "newsbot's passages are ranked by article, each article once. Latency is one "
        "retrieval (newsbot: `Engine.search`, 60 passages; llama-index: `retrieve`)."
        + settings_note(),
        "",
        markdown_table(HEADER, result_rows({n: results[n] for n in reported}, TARGETS)),
        "",
        "Held-out views (not used for tuning): ARCD's test file, and the second half of PIAF.",
        "",
        markdown_table(HEADER, result_rows({n: results[n] for n in held}, {})),
        "",
        "Abstention (`Engine.ask`, default top 5 passages, NEWSBOT_MIN_EVIDENCE "
        f"{engine.settings.min_evidence:g}):",
        "",
        f"- false abstention on the {len(asked):,} benchmark questions above (all answerable): "
        f"**{false_abstention:.1%}** ({ask_ms:.1f} ms per answer on average);",
        f"- abstention on the {n_unanswerable} unanswerable questions of seeds/questions.jsonl, "
        f"asked of the seed articles: **{unanswerable:.0%}**; false abstention on its "
        f"{n_answerable} answerable ones: {seed_false:.0%}.",
        "",
    ]
    return section, "\n".join(lines)


def run_cross(benchmark: Benchmark, distractors: int) -> tuple[str, str]:
    """XQuAD-en questions against the Arabic paragraphs only (their parallel paragraphs)."""
    arabic = [p for p in benchmark.paragraphs if p.dataset in ("XQuAD-ar", "ARCD")]
    documents = [(p.source, p.text) for p in arabic]
    documents += distractor_documents(benchmark, distractors)
    questions = [
        Question(q.id, q.text, q.gold.replace("XQuAD-en-", "XQuAD-ar-"), "XQuAD-en→ar")
        for q in benchmark.questions["XQuAD-en"]
    ]
    with tempfile.TemporaryDirectory(prefix="newsbot-cross-") as temporary:
        engine, summary = build_engine(Path(temporary), documents)
        results = {
            "XQuAD-en questions → Arabic pool": {
                BASELINE: evaluate("cross", llama_index_bm25_ranker(documents), questions),
                NEWSBOT: evaluate("cross", newsbot_ranker(engine), questions),
            }
        }
    text = "\n".join(
        [
            "## Cross-lingual: English questions, Arabic pool",
            "",
            "`uv run python benchmarks/retrieval.py --cross"
            + (f" --distractors {distractors}" if distractors else "")
            + f"` — {machine_description()}.",
            "",
            f"The {len(questions):,} XQuAD-en questions against the {len(arabic):,} XQuAD-ar and "
            f"ARCD paragraphs ({summary}); the gold is the Arabic translation of the paragraph "
            "the question was written on. Neither retriever translates: they can only match "
            "what both languages write alike (digits, Latin-script names), so this measures "
            f"how little the offline setup does across languages.{settings_note()}",
            "",
            markdown_table(HEADER, result_rows(results, {})),
            "",
        ]
    )
    return "cross" + (f"-distractors-{distractors}" if distractors else ""), text


def settings_note() -> str:
    overrides = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("NEWSBOT_"))
    return f" Settings overridden: {', '.join(overrides)}." if overrides else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Compare newsbot's retrieval with stock llama-index on public benchmarks."
    )
    add_distractors_option(parser)
    parser.add_argument(
        "--cross",
        action="store_true",
        help="ask the XQuAD-en questions of the Arabic paragraphs only (cross-lingual)",
    )
    add_data_option(parser)
    args = parser.parse_args()
    benchmark = load_benchmark(args.data)
    if args.cross:
        section, text = run_cross(benchmark, args.distractors)
    else:
        section, text = run_pool(benchmark, args.distractors)
    print()
    print(text)
    record(RESULTS, section, text)
    print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
