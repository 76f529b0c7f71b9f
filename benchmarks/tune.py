"""Choose newsbot's retrieval defaults by measurement on the tuning split.

The tuning split is ARCD's train file and the first half of PIAF's questions, asked
against the whole benchmark pool (see datasets.py). Three parts, each printed and
written to benchmarks/TUNING.md:

1. analysers: the Arabic stemmer, Latin stemming and stopwords, compared by the
   MRR@10 of BM25 over the terms each choice gives;
2. fusion: the weights of the rankings and features, the re-ranking depth and the
   proximity window, by coordinate ascent on MRR@10 with newsbot's own retriever
   over an index built by `Engine.ingest`;
3. abstention: NEWSBOT_MIN_EVIDENCE, from the best passage's evidence for the tuning
   questions with their articles in the index (answerable) and without them;
4. embedding: the hashing embedding's dimension, by the vector ranking alone and
   weighed into the fusion.

    uv run python benchmarks/tune.py [--part analysers|fusion|abstention|embedding]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from benchmark_data import (
    Benchmark,
    Paragraph,
    Question,
    add_data_option,
    load_benchmark,
    tuning_split,
    write_articles,
)
from evaluation import (
    MRR_DEPTH,
    evaluate,
    machine_description,
    markdown_table,
    newsbot_ranker,
    record,
)

if TYPE_CHECKING:
    from rag.engine import Engine

OUTPUT = Path(__file__).with_name("TUNING.md")
# The abstention threshold is the highest that keeps false abstention on answerable
# questions within this share: an assistant that refuses what its articles answer is
# worse than one that sometimes shows weak evidence.
MAX_FALSE_ABSTENTION = 0.05


# -- 1. analysers --------------------------------------------------------------------


def arabic_stemmers() -> dict[str, Callable[[str], str]]:
    import Stemmer
    from nltk.stem.arlstem2 import ARLSTem2
    from nltk.stem.isri import ISRIStemmer

    from rag.text.analysis import arabic_light_stem

    def identity(word: str) -> str:
        return word

    def light_with_single_clitics(word: str) -> str:
        # Also strip one of ف ب ل ك glued to a word without the article.
        stem = arabic_light_stem(word)
        if stem == word and len(word) > 4 and word[0] in "فبلك":
            return arabic_light_stem(word[1:])
        return stem

    return {
        "light (newsbot: و, article forms, suffixes)": arabic_light_stem,
        "light + single clitics ف ب ل ك": light_with_single_clitics,
        "Snowball Arabic (PyStemmer)": Stemmer.Stemmer("arabic").stemWord,
        "ARLSTem2 (nltk)": ARLSTem2().stem,
        "ISRI root stemmer (nltk)": ISRIStemmer().stem,
        "none": identity,
    }


@dataclass(frozen=True)
class AnalyserChoice:
    name: str
    arabic: str = "light (newsbot: و, article forms, suffixes)"
    latin: str = "Snowball"
    stopwords: bool = True
    question_words: bool = True


def term_bm25_reciprocal_ranks(
    choice: AnalyserChoice,
    paragraphs: Sequence[Paragraph],
    questions: Sequence[Question],
    stemmers: dict[str, Callable[[str], str]],
) -> np.ndarray:
    """Per question, 1/rank@10 of bm25s over the terms an analyser choice gives."""
    import bm25s
    import Stemmer

    from rag.text.analysis import Analyzer
    from rag.text.language import detect_language

    def identity(word: str) -> str:
        return word

    analysers: dict[str, Analyzer] = {}
    latin_stemmers: dict[str, Callable[[str], str]] = {
        "none": identity,
        "Snowball alone": Stemmer.Stemmer("french").stemWord,
    }

    def analyser(language: str) -> Analyzer:
        if language not in analysers:
            analysers[language] = Analyzer(
                language,
                remove_stopwords=choice.stopwords,
                question_words=choice.question_words,
                arabic_stemmer=stemmers[choice.arabic],
                latin_stemmer=latin_stemmers.get(choice.latin)
                if choice.latin == "none" or language == "fr"
                else None,
            )
        return analysers[language]

    corpus = [analyser(detect_language(p.text)).terms(p.text) or [""] for p in paragraphs]
    model = bm25s.BM25()
    model.index(corpus, show_progress=False)
    row_of = {p.source: row for row, p in enumerate(paragraphs)}
    reciprocal_ranks = np.zeros(len(questions))
    for number, question in enumerate(questions):
        language = detect_language(question.text)
        query = analyser(language if language != "und" else "en").terms(question.text)
        ids = model.get_tokens_ids(list(dict.fromkeys(query)))
        if not ids:
            continue
        scores = model.get_scores_from_ids(ids)
        top = [int(r) for r in np.argsort(-scores, kind="stable")[:MRR_DEPTH] if scores[r] > 0]
        gold = row_of[question.gold]
        if gold in top:
            reciprocal_ranks[number] = 1.0 / (top.index(gold) + 1)
    return reciprocal_ranks


def paired_interval(a: np.ndarray, b: np.ndarray, rounds: int = 2000) -> tuple[float, float]:
    """95% paired-bootstrap interval of mean(a) - mean(b)."""
    generator = np.random.default_rng(0)
    picks = generator.integers(0, len(a), size=(rounds, len(a)))
    differences = (a[picks] - b[picks]).mean(axis=1)
    return float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))


def subword_mrr(
    paragraphs: Sequence[Paragraph], questions: Sequence[Question], k1: float, b: float, n: int
) -> float:
    """MRR@10 of the n-gram index alone with the given BM25 parameters and gram size."""
    from rag.store.subword import SubwordIndex
    from rag.text.analysis import analyzer_for
    from rag.text.language import detect_language

    def words(text: str) -> str:
        language = detect_language(text)
        return " ".join(
            analyzer_for(language if language != "und" else "en").words_and_terms(text)[0]
        )

    index = SubwordIndex.build([words(p.text) for p in paragraphs], k1=k1, b=b, n=n)
    row_of = {p.source: row for row, p in enumerate(paragraphs)}
    total = 0.0
    for question in questions:
        scores = index.scores(words(question.text))
        top = [int(r) for r in np.argsort(-scores, kind="stable")[:MRR_DEPTH] if scores[r] > 0]
        gold = row_of[question.gold]
        if gold in top:
            total += 1.0 / (top.index(gold) + 1)
    return total / max(len(questions), 1)


def tune_analysers(benchmark: Benchmark, tuning: dict[str, list[Question]]) -> str:
    stemmers = arabic_stemmers()
    choices = [AnalyserChoice(f"Arabic: {name}", arabic=name) for name in stemmers]
    choices += [
        AnalyserChoice("French: Snowball alone (calculée → calcule)", latin="Snowball alone"),
        AnalyserChoice("French and English: no stemming", latin="none"),
        AnalyserChoice("NLTK stopwords only (no question words)", question_words=False),
        AnalyserChoice("no stopwords", stopwords=False),
    ]
    rows = []
    baseline: list[np.ndarray] = []
    for choice in choices:
        ranks = [
            term_bm25_reciprocal_ranks(choice, benchmark.paragraphs, questions, stemmers)
            for questions in tuning.values()
        ]
        baseline = baseline or ranks
        low, high = paired_interval(np.concatenate(ranks), np.concatenate(baseline))
        scores = [float(r.mean()) for r in ranks]
        rows.append(
            [
                choice.name,
                *(f"{s:.3f}" for s in scores),
                f"{np.mean(scores):.4f}",
                f"{low:+.3f} to {high:+.3f}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    text = (
        "### BM25 over terms alone\n\n"
        "The last column is the 95% paired-bootstrap interval of the difference in MRR@10 "
        "with the first row (newsbot's analysers), over all tuning questions. A choice is "
        "taken only when its interval lies above zero; otherwise the simpler, faster one "
        "stays (nltk's stemmers would also add its 1.5 s import to every start).\n\n"
        + markdown_table(["analyser", *tuning, "mean", "vs first row"], rows)
        + "\n"
    )
    grid = []
    for n, k1, b in itertools.product((3, 4, 5), (1.0, 1.5), (0.75, 0.9)):
        scores = [subword_mrr(benchmark.paragraphs, qs, k1, b, n) for qs in tuning.values()]
        grid.append(
            [f"{n}", f"{k1}", f"{b}", *(f"{s:.3f}" for s in scores), f"{np.mean(scores):.4f}"]
        )
        print(" | ".join(grid[-1]), flush=True)
    text += (
        "\n### n-gram index alone: gram size and BM25 parameters\n\n"
        + markdown_table(["n", "k1", "b", *tuning, "mean"], grid)
        + "\n"
    )
    return text


# -- 2. fusion -----------------------------------------------------------------------


@dataclass(frozen=True)
class FusionConfig:
    lexical: float
    subword: float
    vector: float
    coverage: float
    proximity: float
    window: int
    candidates: int
    fusion: str = "scores"

    def label(self) -> str:
        if self.fusion == "rrf":
            return (
                f"RRF: lexical {self.lexical:g}, subword {self.subword:g}, "
                f"vector {self.vector:g}, depth {self.candidates}"
            )
        return (
            f"scores: lexical {self.lexical:g}, subword {self.subword:g}, vector {self.vector:g}, "
            f"coverage {self.coverage:g}, proximity {self.proximity:g} (window {self.window}), "
            f"depth {self.candidates}"
        )


def pool_engine(root: Path, paragraphs: Sequence[Paragraph], name: str) -> Engine:
    """An engine over `paragraphs`, ingested through `Engine.ingest` from article files."""
    from rag.engine import Engine
    from rag.settings import Settings

    corpus = root / f"{name}-articles"
    write_articles(corpus, ((p.source, p.text) for p in paragraphs))
    # The lexical parts were tuned without a model (fit_calibration.py fits the model's).
    engine = Engine(
        Settings(data_dir=root / f"{name}-data", corpus_dir=corpus, embedding_provider="hashing")
    )
    started = time.perf_counter()
    report = engine.ingest()
    print(f"{name}: indexed {report.summary()} ({time.perf_counter() - started:.0f} s)", flush=True)
    return engine


def use_config(engine: Engine, config: FusionConfig) -> None:
    from reciprocal_rank import ReciprocalRankRetriever

    from rag.retrieval.hybrid import HybridRetriever, RetrieverConfig

    retriever = ReciprocalRankRetriever if config.fusion == "rrf" else HybridRetriever
    engine.retriever = retriever(
        engine.index,
        RetrieverConfig(
            candidates=config.candidates,
            lexical_weight=config.lexical,
            subword_weight=config.subword,
            vector_weight=config.vector,
            coverage_weight=config.coverage,
            proximity_weight=config.proximity,
            proximity_window=config.window,
        ),
    )


def tuning_mrr(
    engine: Engine, config: FusionConfig, tuning: dict[str, list[Question]]
) -> list[float]:
    use_config(engine, config)
    ranker = newsbot_ranker(engine)
    return [evaluate(name, ranker, questions).mrr for name, questions in tuning.items()]


Config = TypeVar("Config", bound="FusionConfig")


def coordinate_ascent(
    score: Callable[[Config], float],
    best: Config,
    fields: Sequence[str],
    steps: Sequence[float],
) -> tuple[Config, float]:
    """Move one weight at a time by each step, up or down, while the score improves."""
    best_score = score(best)
    for step in steps:
        improved = True
        while improved:
            improved = False
            for field in fields:
                for delta in (step, -step):
                    value = round(max(0.0, getattr(best, field) + delta), 3)
                    candidate = replace(best, **{field: value})
                    if score(candidate) > best_score + 1e-4:
                        best, best_score, improved = candidate, score(candidate), True
    return best, best_score


def best_rows(
    seen: dict[Config, list[float]], references: Sequence[Config], limit: int
) -> list[list[str]]:
    """Table rows: the references, then the best `limit` others, with each set's MRR@10."""
    others = sorted(
        (c for c in seen if c not in references), key=lambda c: -float(np.mean(seen[c]))
    )
    return [
        [c.label(), *(f"{m:.3f}" for m in seen[c]), f"{np.mean(seen[c]):.4f}"]
        for c in [*references, *others[:limit]]
    ]


def tune_fusion(engine: Engine, tuning: dict[str, list[Question]]) -> tuple[str, FusionConfig]:
    seen: dict[FusionConfig, list[float]] = {}

    def score(config: FusionConfig) -> float:
        if config not in seen:
            seen[config] = tuning_mrr(engine, config, tuning)
            print(f"{np.mean(seen[config]):.4f}  {config.label()}", flush=True)
        return float(np.mean(seen[config]))

    references = [
        FusionConfig(1.0, 0.0, 0.5, 0, 0, 10, 50, "rrf"),  # the defaults before this tuning
        FusionConfig(1.0, 0.0, 0.0, 0, 0, 10, 50, "rrf"),
        FusionConfig(1.0, 1.0, 0.5, 0, 0, 10, 50, "rrf"),
        FusionConfig(1.0, 1.0, 0.0, 0, 0, 10, 50, "rrf"),
    ]
    for config in references:
        score(config)
    # The subword weight is the scale the others are measured against.
    best, best_score = coordinate_ascent(
        score,
        current_config(engine),
        ("lexical", "vector", "coverage", "proximity"),
        (0.4, 0.2, 0.1),
    )
    for window in (5, 10, 20, 40):
        candidate = replace(best, window=window)
        if score(candidate) > best_score + 1e-4:
            best, best_score = candidate, score(candidate)
    for depth in (20, 30, 50, 100):
        candidate = replace(best, candidates=depth)
        if score(candidate) > best_score + 1e-4:
            best, best_score = candidate, score(candidate)

    rows = best_rows(seen, references, 15)
    text = (
        "MRR@10 of newsbot's retriever over an index built by `Engine.ingest`.\n\n"
        "The four RRF rows are references (the first is the configuration before this "
        f"tuning); then the best of the {len(seen)} configurations tried by coordinate ascent.\n\n"
        + markdown_table(["configuration", *tuning, "mean"], rows)
        + f"\n\nChosen: {best.label()}.\n"
    )
    return text, best


# -- 3. abstention -------------------------------------------------------------------


def best_evidence(engine: Engine, questions: Sequence[Question]) -> np.ndarray:
    """The evidence of the best of the passages an answer is drawn from, per question."""
    values = []
    for question in questions:
        passages = engine.search(question.text)
        values.append(max((p.evidence for p in passages), default=0.0))
    return np.array(values)


def tune_abstention(
    root: Path,
    benchmark: Benchmark,
    engine: Engine,
    config: FusionConfig,
    tuning: dict[str, list[Question]],
) -> str:
    questions = [q for qs in tuning.values() for q in qs]
    gold_articles = {
        (p.dataset, p.article)
        for p in benchmark.paragraphs
        if p.source in {q.gold for q in questions}
    }
    # The same questions against a pool without their Wikipedia articles: unanswerable,
    # but for the near-duplicate paragraphs some ARCD articles share.
    without = [p for p in benchmark.paragraphs if (p.dataset, p.article) not in gold_articles]
    other = pool_engine(root, without, "pool-without-tuning-articles")
    use_config(engine, config)
    use_config(other, config)
    answerable = best_evidence(engine, questions)
    unanswerable = best_evidence(other, questions)
    rows = []
    chosen = 0.0
    for threshold in np.arange(0.2, 0.81, 0.05):
        false_abstention = float(np.mean(answerable < threshold))
        abstention = float(np.mean(unanswerable < threshold))
        balanced = (1 - false_abstention + abstention) / 2
        if false_abstention <= MAX_FALSE_ABSTENTION:
            chosen = float(threshold)
        rows.append(
            [f"{threshold:.2f}", f"{false_abstention:.3f}", f"{abstention:.3f}", f"{balanced:.3f}"]
        )
    return (
        "NEWSBOT_MIN_EVIDENCE. "
        f"Evidence of the best of the top-5 passages for the {len(questions)} tuning questions, "
        f"with their articles in the pool and without them ({len(without)} paragraphs).\n\n"
        + markdown_table(
            [
                "threshold",
                "false abstention (answerable)",
                "abstention (articles removed)",
                "balanced accuracy",
            ],
            rows,
        )
        + f"\n\nChosen: {chosen:.2f}, the highest threshold whose false abstention stays "
        f"within {MAX_FALSE_ABSTENTION:.0%}. The articles-removed construction overstates "
        "what is unanswerable: other articles, and ARCD's near-duplicate paragraphs, still "
        "answer some of the questions.\n"
    )


def tune_embedding(root: Path, benchmark: Benchmark, tuning: dict[str, list[Question]]) -> str:
    """The vector ranking alone, and weighed in, for a few embedding dimensions."""
    from rag.engine import Engine
    from rag.settings import load_settings

    corpus = root / "embedding-articles"
    write_articles(corpus, ((p.source, p.text) for p in benchmark.paragraphs))
    rows = []
    for dim in (256, 768, 2048):
        engine = Engine(
            load_settings(
                data_dir=root / f"embedding-{dim}",
                corpus_dir=corpus,
                embedding_dim=dim,
                embedding_provider="hashing",
            )
        )
        engine.ingest()
        default = current_config(engine)
        alone = FusionConfig(0, 0, 1, 0, 0, default.window, default.candidates)
        weighed = replace(default, vector=0.2)
        cells = [f"{dim}"]
        for config in (alone, weighed, default):
            cells.append(f"{np.mean(tuning_mrr(engine, config, tuning)):.4f}")
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    return (
        "Mean MRR@10 over the tuning sets. The last column (vector weight 0, the default) "
        "does not depend on the dimension; at no dimension does weighing the vector ranking "
        "in help, so NEWSBOT_VECTOR_WEIGHT is 0 and the dimension stays 768.\n\n"
        + markdown_table(
            [
                "dimensions",
                "vector ranking alone",
                "defaults + vector weight 0.2",
                "defaults (vector weight 0)",
            ],
            rows,
        )
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        choices=("analysers", "fusion", "abstention", "embedding"),
        action="append",
        help="run only this part (repeatable); the others' sections stay as they are",
    )
    add_data_option(parser)
    args = parser.parse_args()
    parts = args.part or ["analysers", "fusion", "abstention", "embedding"]
    benchmark = load_benchmark(args.data)
    tuning, _ = tuning_split(benchmark)
    header = (
        f"Run: {machine_description()}. Tuning split: "
        + ", ".join(f"{name} ({len(qs):,} questions)" for name, qs in tuning.items())
        + f", against the pool of {len(benchmark.paragraphs):,} paragraphs.\n\n"
    )

    def save(part: str, text: str) -> None:
        command = f"`uv run python benchmarks/tune.py --part {part}`"
        record(OUTPUT, part, f"## {part.capitalize()}\n\n{command} — {header}{text}")
        print(text, flush=True)

    if "analysers" in parts:
        save("analysers", tune_analysers(benchmark, tuning))
    if "fusion" in parts or "abstention" in parts:
        with tempfile.TemporaryDirectory(prefix="newsbot-tune-") as temporary:
            root = Path(temporary)
            engine = pool_engine(root, benchmark.paragraphs, "pool")
            config = current_config(engine)
            if "fusion" in parts:
                text, config = tune_fusion(engine, tuning)
                save("fusion", text)
            if "abstention" in parts:
                save("abstention", tune_abstention(root, benchmark, engine, config, tuning))
    if "embedding" in parts:
        with tempfile.TemporaryDirectory(prefix="newsbot-tune-") as temporary:
            save("embedding", tune_embedding(Path(temporary), benchmark, tuning))
    print(f"recorded in {OUTPUT}")


def current_config(engine: Engine) -> FusionConfig:
    from rag.retrieval.hybrid import COVERAGE_WEIGHT, PROXIMITY_WEIGHT, PROXIMITY_WINDOW

    settings = engine.settings
    return FusionConfig(
        settings.lexical_weight,
        settings.subword_weight,
        settings.vector_ranking_weight(),
        COVERAGE_WEIGHT,
        PROXIMITY_WEIGHT,
        PROXIMITY_WINDOW,
        settings.candidates,
    )


if __name__ == "__main__":
    main()
