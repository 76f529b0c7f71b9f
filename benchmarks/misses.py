"""Where newsbot's retrieval still misses on the benchmark pool, and what the targets ask.

Builds the pool of benchmarks/retrieval.py (optionally with SaudiNewsNet distractors),
asks every reported question through `Engine.search`, and sorts the questions whose
paragraph is not ranked first by what is ranked first instead: another paragraph of
the same Wikipedia article, a paragraph of another article, a news article, or
nothing. It then splits the questions by whether their gold paragraph holds the
question's rarest term (its highest-IDF term, or a near form of it). A paragraph
that lacks it names the subject another way: only through the Wikipedia article's
title, which the pool leaves out ("Dans quel pays a étudié Yoweri Museveni ?", asked
of a paragraph that says "il part faire des études ... en Tanzanie"), by a synonym or
a pronoun, or the question misspells it. The last column is the MRR@10
the questions whose paragraph does hold that term would need for the set to reach
its target, the others staying as they are.

    uv run python benchmarks/misses.py                     # the pool
    uv run python benchmarks/misses.py --distractors 10000 # + 10,000 SaudiNewsNet articles
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmark_data import (
    Benchmark,
    Paragraph,
    Question,
    add_data_option,
    add_distractors_option,
    load_benchmark,
    reported_sets,
    work_engine,
)
from evaluation import (
    ARTICLES_RANKED,
    MRR_DEPTH,
    gold_rank,
    machine_description,
    markdown_table,
    newsbot_ranker,
    record,
)
from retrieval import RESULTS, TARGETS, distractor_documents, settings_note

if TYPE_CHECKING:
    from rag.engine import Engine

FIRST_INSTEAD = ("same article", "other article", "news article", "nothing")


@dataclass
class SetMisses:
    questions: int
    reciprocal_ranks: list[float]
    first_instead: Counter[str]
    holds_rarest: list[bool]

    @property
    def mrr(self) -> float:
        return sum(self.reciprocal_ranks) / max(self.questions, 1)

    def mrr_where(self, holds: bool) -> tuple[int, float]:
        ranks = [
            r for r, h in zip(self.reciprocal_ranks, self.holds_rarest, strict=True) if h == holds
        ]
        return len(ranks), sum(ranks) / max(len(ranks), 1)

    def needed(self, target: float) -> float:
        """MRR@10 the questions whose gold holds the rarest term need for `target`."""
        holding, _ = self.mrr_where(True)
        lacking, lacking_mrr = self.mrr_where(False)
        if not holding:
            return float("nan")
        return (target * self.questions - lacking * lacking_mrr) / holding


def gold_holds_rarest_term(engine: Engine, question: Question, paragraph: Paragraph) -> bool:
    from rag.retrieval.query_terms import QueryTerms
    from rag.text.analysis import analyzer_for
    from rag.text.language import detect_language

    snapshot = engine.index.snapshot()
    _, terms = analyzer_for(detect_language(question.text)).words_and_terms(question.text)
    query = QueryTerms.of(terms, snapshot.idf)
    if not query.weights:
        return False
    rarest = max(query.weights, key=lambda term: query.weights[term])
    _, found = query.coverage(
        set(analyzer_for(detect_language(paragraph.text)).terms(paragraph.text))
    )
    return rarest in found


def misses(engine: Engine, benchmark: Benchmark, questions: list[Question]) -> SetMisses:
    paragraphs = {p.source: p for p in benchmark.paragraphs}
    rank = newsbot_ranker(engine)
    result = SetMisses(len(questions), [], Counter(), [])
    for question in questions:
        ranked = rank(question.text)[:ARTICLES_RANKED]
        position = gold_rank(ranked, question.gold)
        result.reciprocal_ranks.append(
            1.0 / position if position is not None and position <= MRR_DEPTH else 0.0
        )
        gold = paragraphs[question.gold]
        result.holds_rarest.append(gold_holds_rarest_term(engine, question, gold))
        if position == 1:
            continue
        first = paragraphs.get(ranked[0]) if ranked else None
        if not ranked:
            result.first_instead["nothing"] += 1
        elif first is None:
            result.first_instead["news article"] += 1
        elif (first.dataset, first.article) == (gold.dataset, gold.article):
            result.first_instead["same article"] += 1
        else:
            result.first_instead["other article"] += 1
    return result


HEADER = [
    "set",
    "questions",
    "MRR@10",
    "not first",
    *(f"first instead: {kind}" for kind in FIRST_INSTEAD),
    "gold holds the rarest term: questions, MRR@10",
    "gold lacks it: questions, MRR@10",
    "target",
    "MRR@10 needed where the gold holds it",
]


def row(name: str, result: SetMisses) -> list[str]:
    missed = sum(result.first_instead.values())
    holding, holding_mrr = result.mrr_where(True)
    lacking, lacking_mrr = result.mrr_where(False)
    target = TARGETS.get(name)
    needed = result.needed(target) if target is not None else float("nan")
    return [
        name,
        f"{result.questions:,}",
        f"{result.mrr:.3f}",
        f"{missed:,} ({missed / max(result.questions, 1):.0%})",
        *(f"{result.first_instead[kind]:,}" for kind in FIRST_INSTEAD),
        f"{holding:,} ({holding / max(result.questions, 1):.0%}), {holding_mrr:.3f}",
        f"{lacking:,} ({lacking / max(result.questions, 1):.0%}), {lacking_mrr:.3f}",
        f"{target:.2f}" if target is not None else "",
        ("> 1, out of reach" if needed > 1 else f"{needed:.3f}") if target is not None else "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Sort the benchmark questions newsbot does not rank first, and say why."
    )
    add_distractors_option(parser)
    add_data_option(parser)
    args = parser.parse_args()
    benchmark = load_benchmark(args.data)
    documents = [(p.source, p.text) for p in benchmark.paragraphs]
    documents += distractor_documents(benchmark, args.distractors)
    name = (
        "pool"
        if not args.distractors
        else f"pool-distractors-{len(documents) - len(benchmark.paragraphs)}"
    )
    engine = work_engine(name, documents)
    summary = f"{len(engine.articles()):,} articles, {len(engine.index.snapshot()):,} passages"
    rows = []
    for set_name, questions in reported_sets(benchmark).items():
        rows.append(row(set_name, misses(engine, benchmark, questions)))
        print(markdown_table(HEADER, rows[-1:]), flush=True)
    command = "uv run python benchmarks/misses.py" + (
        f" --distractors {args.distractors}" if args.distractors else ""
    )
    text = "\n".join(
        [
            "## Misses" + (f" with {args.distractors:,} distractors" if args.distractors else ""),
            "",
            f"`{command}` — {machine_description()}.",
            "",
            f"newsbot: {summary}. The questions of each set whose paragraph newsbot does not "
            "rank first, by what it ranks first instead; then all questions split by whether "
            "their paragraph holds the question's rarest term (or a near form). A paragraph "
            "that lacks it names its subject another way: only in the Wikipedia article's "
            "title, which the pool leaves out, by a synonym or a pronoun, or the question "
            "misspells it. The last column is the MRR@10 the questions whose "
            "paragraph holds the term would need for the set to reach its target, the others "
            f"unchanged.{settings_note()}",
            "",
            markdown_table(HEADER, rows),
            "",
        ]
    )
    print()
    print(text)
    section = "misses" + (f"-distractors-{args.distractors}" if args.distractors else "")
    record(RESULTS, section, text)
    print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
