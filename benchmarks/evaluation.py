"""Ranking metrics, the two retrievers under test, and the record of where a run happened."""

from __future__ import annotations

import datetime
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from _machine import commit, cpu_name, memory_gib
from benchmark_data import Question

if TYPE_CHECKING:
    from rag.engine import Engine

RECALL_AT = (1, 5, 20)
MRR_DEPTH = 10
ARTICLES_RANKED = 20
# Passages newsbot returns per question: enough for 20 distinct articles when
# long articles contribute several passages each.
PASSAGES_RANKED = 60

Ranker = Callable[[str], list[str]]


@dataclass(frozen=True)
class SetResult:
    name: str
    questions: int
    recall: dict[int, float]
    mrr: float
    latency_ms_p50: float
    latency_ms_p95: float
    # MRR@10 with the gold's translation counted as right too (XQuAD only).
    mrr_either_language: float | None = None

    def cells(self) -> list[str]:
        return [
            *(f"{self.recall[k]:.3f}" for k in RECALL_AT),
            f"{self.mrr:.3f}",
            f"{self.latency_ms_p50:.1f} / {self.latency_ms_p95:.1f}",
        ]


def gold_rank(ranked: Sequence[str], gold: str) -> int | None:
    """1-based rank of `gold` among the ranked article sources, None if absent."""
    for position, source in enumerate(ranked, 1):
        if source == gold:
            return position
    return None


def evaluate(
    name: str,
    ranker: Ranker,
    questions: Sequence[Question],
    translation: Callable[[str], str | None] | None = None,
) -> SetResult:
    """Recall@1/5/20, MRR@10 and per-query latency of `ranker` on `questions`; with
    `translation` (a paragraph's translation in the pool, if any), also MRR@10 with the
    first of the gold and its translation counted."""
    ranks: list[int | None] = []
    either: list[int | None] = []
    latencies: list[float] = []
    for question in questions:
        started = time.perf_counter()
        ranked = ranker(question.text)
        latencies.append(time.perf_counter() - started)
        ranks.append(gold_rank(ranked[:ARTICLES_RANKED], question.gold))
        if translation is not None:
            twin = translation(question.gold) or question.gold
            found = [r for r in (ranks[-1], gold_rank(ranked[:ARTICLES_RANKED], twin)) if r]
            either.append(min(found, default=None))
    count = max(len(questions), 1)
    recall = {k: sum(1 for r in ranks if r is not None and r <= k) / count for k in RECALL_AT}

    def mrr_of(found: list[int | None]) -> float:
        return sum(1.0 / r for r in found if r is not None and r <= MRR_DEPTH) / count

    mrr = mrr_of(ranks)
    milliseconds = np.array(latencies or [0.0]) * 1000
    return SetResult(
        name,
        len(questions),
        recall,
        mrr,
        float(np.percentile(milliseconds, 50)),
        float(np.percentile(milliseconds, 95)),
        mrr_of(either) if translation is not None else None,
    )


def newsbot_ranker(engine: Engine) -> Ranker:
    """Article sources in the order of newsbot's ranked passages, each source once."""

    def rank(question: str) -> list[str]:
        passages = engine.search(question, top_k=PASSAGES_RANKED)
        return list(dict.fromkeys(passage.source for passage in passages))

    return rank


def llama_index_bm25_ranker(documents: Sequence[tuple[str, str]]) -> Ranker:
    """Stock llama-index: `BM25Retriever.from_defaults(nodes=..., similarity_top_k=20)`.

    One node per document, as `(source, text)`; nothing else is configured.
    """
    from llama_index.core.schema import BaseNode, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes: list[BaseNode] = [TextNode(text=text, id_=source) for source, text in documents]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=ARTICLES_RANKED)

    def rank(question: str) -> list[str]:
        return [hit.node.node_id for hit in retriever.retrieve(question)]

    return rank


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_description() -> str:
    """Date, commit, CPU, cores and memory of this run, in one line."""
    memory = memory_gib()
    shown = f", {memory:.0f} GB RAM" if memory else ""
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f} at the start"
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{date}; commit {commit()}; {cpu_name()}, {os.cpu_count()} cores{shown}{load}; "
        f"Python {platform.python_version()} on {platform.system()}"
    )


def record(path: Path, section: str, text: str) -> None:
    """Replace (or add) one section of a results file, leaving the others as they are."""
    begin, end = f"<!-- begin {section} -->", f"<!-- end {section} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else RESULTS_HEADERS[path.name]
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(updated, encoding="utf-8")


RESULTS_HEADERS = {
    "RESULTS.md": "# Benchmark results\n\n"
    "Each section is written by the command it names; rerun a command to refresh its section.\n",
    "TUNING.md": "# Tuning newsbot's retrieval defaults\n\n"
    "Written by `uv run python benchmarks/tune.py` (the lexical setup; each part is a section "
    "that `--part` reruns) and `uv run python benchmarks/fit_calibration.py` (the bundled "
    "model).\n",
}


def model_alone_ranker(engine: Engine) -> Ranker:
    """Article sources of the embedding's nearest passages by cosine similarity in Chroma,
    each source once: the model alone, without newsbot's fusion."""

    def rank(question: str) -> list[str]:
        vector = engine.index.embedding.get_query_embedding(question)  # type: ignore[union-attr]
        snapshot = engine.index.snapshot()
        hits = engine.index.vector.query(list(vector), PASSAGES_RANKED)
        sources = [
            snapshot.records[snapshot.row_of[i]].source for i, _ in hits if i in snapshot.row_of
        ]
        return list(dict.fromkeys(sources))

    return rank
