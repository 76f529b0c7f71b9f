"""Fit the calibration of each setup: rag/calibrations/model.json and lexical.json.

On the tuning half of the trust archive (benchmarks/trust_data.py: XQuAD's first 24
articles in Arabic and English, PIAF's first half in French, one paragraph of each left
out), through the engine's own code:

1. ranking (model setup only): a pairwise logistic model over the passage features of
   `HybridRetriever.passage_features`: the passage that holds a question's answer against
   the other candidates, in the trust archive and in the public pool of
   benchmarks/retrieval.py (its tuning split: ARCD's training questions, the first halves
   of XQuAD and PIAF);
2. sentence: a logistic model of whether a sentence of the first passages holds the
   answer, over the features of rag/answering/sentences.py;
3. question: a logistic model of whether the articles answer the question at all (left-out
   questions, and ARCD's training questions, which the archive does not hold, say no),
   over rag/answering/answerability.py's features; groups weigh equally. The lexical
   setup is fitted without the cross-lingual questions, which words cannot match.

The refusal threshold is the likelihood below which at most FALSE_REFUSAL of the tuning
half's answerable questions fall, each group (same-language, cross-lingual, French)
weighing the same; a sentence "answers on its own" above the logit that
SENTENCE_RECALL of the sentences holding an answer reach. The test half is never read.

    uv run python benchmarks/fit_calibration.py            # both setups
    uv run python benchmarks/fit_calibration.py --setup model
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from benchmark_data import CachedEmbedding, add_data_option
from evaluation import machine_description, markdown_table, record
from trust import engine_for, write_archive
from trust_data import TrustArchive, TrustQuestion, build_archive

if TYPE_CHECKING:
    from rag.engine import Engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CALIBRATIONS = PROJECT_ROOT / "rag" / "calibrations"
TUNING = Path(__file__).with_name("TUNING.md")
# The most answerable questions of the tuning half a setup may refuse: the bound
# with the model; for the lexical setup, no more than it refused before answerability was
# fitted (0.03 on XQuAD and PIAF).
FALSE_REFUSAL = {"model": 0.10, "lexical": 0.03}
SENTENCE_RECALL = 0.95
L2 = 1e-3
NEGATIVES_PER_QUESTION = 40
OFF_TOPIC_QUESTIONS = 300
POOL_QUESTIONS = 400
REFERENCE_PASSAGES = 120
SYSTEM_OF_SETUP = {"model": "newsbot (default)", "lexical": "newsbot lexical-only"}


def fit_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    intercept: bool = True,
    standardise: bool = True,
    l2: float = L2,
) -> dict[str, Any]:
    """Weighted L2-regularised logistic regression by Newton's method."""
    matrix = np.asarray(features, dtype=np.float64)
    mean = matrix.mean(0) if standardise else np.zeros(matrix.shape[1])
    scale = matrix.std(0) if standardise else np.ones(matrix.shape[1])
    scale[scale < 1e-9] = 1.0
    z = (matrix - mean) / scale
    if intercept:
        z = np.c_[np.ones(len(z)), z]
    w = np.ones(len(z)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.mean()
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    if intercept:
        penalty[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (w * (p - labels)) / len(z) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z / len(z) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return {
        "intercept": float(beta[0]) if intercept else 0.0,
        "weights": [float(b) for b in (beta[1:] if intercept else beta)],
        "mean": [float(m) for m in mean],
        "scale": [float(s) for s in scale],
    }


def weighted_quantile(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The value below which `share` of the weight lies: each group of questions counts
    the same, whatever its size."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cumulative, share)])


def open_engine(setup: str, articles: Path) -> Engine:
    """The engine the trust benchmark asks, over the archive, with cached question vectors."""
    engine = engine_for(SYSTEM_OF_SETUP[setup], articles)
    print(f"{setup}: {engine.ingest([articles]).summary()}", flush=True)
    if engine.index.embedding is not None and setup == "model":
        engine.index.embedding = CachedEmbedding(engine.index.embedding)  # type: ignore[assignment]
    return engine


def tuning_questions(archive: TrustArchive, off_topic: Sequence[str]) -> list[TrustQuestion]:
    chosen = [q for q in archive.of("tuning")]
    for number, text in enumerate(off_topic):
        chosen.append(
            TrustQuestion(
                id=f"off-topic-{number}",
                text=text,
                language="ar",
                dataset="XQuAD",
                half="tuning",
                kind="left-out",
                answers=(),
                gold=None,
                article="",
                article_language="",
            )
        )
    return chosen


def group_of(question: TrustQuestion) -> str:
    return "ARCD (off-topic)" if question.id.startswith("off-topic") else question.group


def arcd_off_topic(root: Path) -> list[str]:
    data = json.loads((root / "arcd" / "arcd-train.json").read_text(encoding="utf-8"))
    texts = [
        qa["question"].strip() for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]
    ]
    return random.Random(23).sample(texts, min(OFF_TOPIC_QUESTIONS, len(texts)))


def holds_span(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def reference_texts(engine: Engine) -> dict[str, np.ndarray]:
    """Vectors of REFERENCE_PASSAGES passages per language of the tuning half's articles
    (and of up to three times as many of their sentences): what a small archive's
    languages are filled up with (rag/calibration.py)."""
    snapshot = engine.index.snapshot()
    tuning = {
        name
        for name in {record.source for record in snapshot.records}
        if (name.startswith("xquad-") and int(name[6:8]) < 24)
        or (name.startswith("piaf-") and int(name[5:8]) < 95)
    }
    reference: dict[str, np.ndarray] = {}
    store = engine.index.vector
    for language in ("ar", "en", "fr"):
        ids = sorted(
            r.passage_id for r in snapshot.records if r.language == language and r.source in tuning
        )
        ids = random.Random(language).sample(ids, min(REFERENCE_PASSAGES, len(ids)))
        got = store._collection.get(ids=ids, include=["embeddings"])  # type: ignore[union-attr]
        reference[f"passages:{language}"] = np.asarray(got["embeddings"], np.float32)
        sentences = list(store.sentence_vectors(ids).values())
        sentences = random.Random(language).sample(
            sentences, min(3 * REFERENCE_PASSAGES, len(sentences))
        )
        reference[f"sentences:{language}"] = np.asarray(sentences, np.float32)
    return reference


def pool_pairs(
    benchmark_root: Path,
) -> tuple[list[np.ndarray], list[float]]:
    """Ranking pairs from the public pool (benchmarks/retrieval.py: one article file per
    paragraph, mostly Arabic) on its tuning split: ARCD's training questions and the first
    halves of XQuAD and PIAF. Each set weighs as much as a group of the trust archive."""
    from benchmark_data import load_benchmark, tuning_split, work_engine, xquad_halves

    from rag.retrieval.query_terms import QueryTerms
    from rag.text.analysis import analyzer_for
    from rag.text.language import detect_language

    benchmark = load_benchmark(benchmark_root)
    engine = work_engine("pool", [(p.source, p.text) for p in benchmark.paragraphs])
    tuning, _ = tuning_split(benchmark)
    xquad_tuning, _ = xquad_halves(benchmark)
    sets = {**tuning, **xquad_tuning}
    retriever, snapshot = engine.retriever, engine.index.snapshot()
    differences: list[np.ndarray] = []
    weights: list[float] = []
    for name, questions in sets.items():
        sample = random.Random(name).sample(questions, min(POOL_QUESTIONS, len(questions)))
        for question in sample:
            language = detect_language(question.text)
            language = language if language != "und" else "en"
            words, terms = analyzer_for(language).words_and_terms(question.text)
            vector = np.asarray(
                engine.index.embedding.get_query_embedding(question.text),
                np.float32,  # type: ignore[union-attr]
            )
            query = QueryTerms.of(terms, snapshot.idf, vector)
            similarities = retriever._similarities(vector, snapshot, language)
            if similarities is None:
                continue
            features = retriever.passage_features(
                words, query, language, snapshot, similarities, engine.settings.top_k
            )
            sources = [snapshot.records[row].source for row in features.rows]
            positive = [i for i, source in enumerate(sources) if source == question.gold]
            negative = [i for i, source in enumerate(sources) if source != question.gold]
            if not positive:
                continue
            chosen = negative[:NEGATIVES_PER_QUESTION]
            for i in chosen:
                differences.append(features.matrix[positive[0]] - features.matrix[i])
                weights.append(1.0 / len(sample) / len(chosen))
        print(f"  pool pairs: {name}", flush=True)
    return differences, weights


def fit_ranking(
    engine: Engine, questions: Sequence[TrustQuestion], benchmark_root: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pairwise: the passages holding the answer against the others of the candidates.
    Also each language's typical background for a question in each language (the mean
    similarity of its nearest passages and sentences), which a small archive's languages
    are filled up with."""
    from rag.retrieval.hybrid import RANKING_FEATURES
    from rag.retrieval.query_terms import QueryTerms
    from rag.text.analysis import analyzer_for

    retriever = engine.retriever
    snapshot = engine.index.snapshot()
    differences: list[np.ndarray] = []
    pair_weights: list[float] = []
    per_group: dict[str, int] = defaultdict(int)
    answerable = [q for q in questions if q.answerable and q.answer_spans]
    weight_of = group_weights(answerable)
    reference = reference_texts(engine)
    backgrounds: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for number, question in enumerate(answerable):
        words, terms = analyzer_for(question.language).words_and_terms(question.text)
        vector = np.asarray(engine.index.embedding.get_query_embedding(question.text), np.float32)  # type: ignore[union-attr]
        query = QueryTerms.of(terms, snapshot.idf, vector)
        similarities = retriever._similarities(vector, snapshot, question.language)
        if similarities is None:
            continue
        for kind, found in (
            ("passages", similarities.passage_background),
            ("sentences", similarities.sentence_background),
        ):
            for passage_language, value in found.items():
                reference_mean = float((reference[f"{kind}:{passage_language}"] @ vector).mean())
                backgrounds[kind][question.language][passage_language].append(
                    value - reference_mean
                )
        features = retriever.passage_features(
            words, query, question.language, snapshot, similarities, engine.settings.top_k
        )
        positive, negative = [], []
        for i, row in enumerate(features.rows):
            record = snapshot.records[row]
            if record.source != question.article:
                negative.append(i)
                continue
            if holds_span(record.start, record.end, question.answer_spans):
                positive.append(i)
            elif question.gold is None or not (
                record.start < question.gold.end and question.gold.start < record.end
            ):
                negative.append(i)
        if not positive:
            continue
        per_group[question.group] += 1
        best = positive[0]
        chosen = negative[:NEGATIVES_PER_QUESTION]
        for i in chosen:
            differences.append(features.matrix[best] - features.matrix[i])
            pair_weights.append(weight_of[question.group] / len(chosen))
        if number % 500 == 0:
            print(f"  ranking features: {number}/{len(answerable)}", flush=True)
    pool_differences, pool_weights = pool_pairs(benchmark_root)
    differences += pool_differences
    pair_weights += pool_weights
    diffs = np.array(differences)
    # Both orders, so that the model has something to tell apart without an intercept.
    fitted = fit_logistic(
        np.r_[diffs, -diffs],
        np.r_[np.ones(len(diffs)), np.zeros(len(diffs))],
        np.r_[pair_weights, pair_weights],
        intercept=False,
        standardise=False,
    )
    prior = {
        kind: {
            question_language: {
                passage_language: round(float(np.mean(values)), 4)
                for passage_language, values in by_passage.items()
            }
            for question_language, by_passage in by_question.items()
        }
        for kind, by_question in backgrounds.items()
    }
    np.savez_compressed(
        CALIBRATIONS / "model.reference.npz",
        **{key: vectors.astype(np.float16) for key, vectors in reference.items()},
    )
    return {"names": list(RANKING_FEATURES), **fitted}, prior


def read_all(engine: Engine, questions: Sequence[TrustQuestion]) -> list[tuple[TrustQuestion, Any]]:
    """Each question through the engine's retrieval and sentence reading (no answer
    composed): what the sentence and question models are fitted on."""
    from rag.engine import clean_question

    readings = []
    k = engine.settings.top_k
    for number, question in enumerate(questions):
        text, _ = clean_question(question.text, engine.settings.max_question_chars)
        passages, query = engine.retriever.retrieve(text, question.language, k)
        reading = engine.answerer.read(text, question.language, query, passages)
        readings.append((question, reading))
        if number % 500 == 0:
            print(f"  read {number}/{len(questions)}", flush=True)
    return readings


def sentence_label(question: TrustQuestion, reading: Any, sentence: Any) -> bool:
    passage = reading.ranked[sentence.passage]
    if passage.source != question.article:
        return False
    return any(
        holds_span(passage.start + s, passage.start + e, question.answer_spans)
        for s, e in sentence.unit.segments
    )


def group_weights(questions: Sequence[TrustQuestion]) -> dict[str, float]:
    counts: dict[str, int] = defaultdict(int)
    for question in questions:
        counts[group_of(question)] += 1
    return {group: 1.0 / count for group, count in counts.items()}


def fit_setup(
    setup: str,
    archive: TrustArchive,
    articles: Path,
    off_topic: list[str],
    benchmark_root: Path,
) -> dict[str, Any]:
    from rag.answering.answerability import QUESTION_FEATURES, question_features
    from rag.answering.sentences import SENTENCE_FEATURES, weigh_sentences
    from rag.calibration import Calibration, LinearModel, probability

    engine = open_engine(setup, articles)
    questions = tuning_questions(archive, off_topic)
    if setup == "lexical":
        # Words can't match across languages: there, the lexical setup refuses, and says why.
        questions = [q for q in questions if q.language == q.article_language or not q.article]
    current = engine.calibration.as_dict()
    if setup == "model":
        print("fitting the ranking", flush=True)
        ranking, prior = fit_ranking(engine, questions, benchmark_root)
        current["ranking"] = ranking
        current["background_prior"] = prior
        engine.retriever.config = replace(engine.retriever.config, ranking=LinearModel.of(ranking))
    print("fitting the sentence model", flush=True)
    readings = read_all(engine, questions)
    weight_of = group_weights(questions)
    rows, labels, weights = [], [], []
    for question, reading in readings:
        sentences = reading.sentences
        if not sentences:
            continue
        for sentence in sentences:
            rows.append([sentence.features[name] for name in SENTENCE_FEATURES])
            labels.append(
                float(question.answerable and sentence_label(question, reading, sentence))
            )
            weights.append(weight_of[group_of(question)] / len(sentences))
    sentence_model = {
        "names": list(SENTENCE_FEATURES),
        **fit_logistic(np.array(rows), np.array(labels), np.array(weights)),
    }
    current["sentence"] = sentence_model
    calibration = Calibration.of(current)
    gold_logits = []
    for question, reading in readings:
        weigh_sentences(reading.sentences, calibration)
        for sentence in reading.sentences:
            if question.answerable and sentence_label(question, reading, sentence):
                gold_logits.append(sentence.logit)
    current["sentence_threshold"] = float(np.quantile(gold_logits, 1 - SENTENCE_RECALL))
    print("fitting the question model", flush=True)
    qrows, qlabels, qweights = [], [], []
    for question, reading in readings:
        features = question_features(reading.sentences, reading.absent_names)
        qrows.append([features[name] for name in QUESTION_FEATURES])
        qlabels.append(float(question.answerable))
        qweights.append(weight_of[group_of(question)])
    question_model = {
        "names": list(QUESTION_FEATURES),
        **fit_logistic(np.array(qrows), np.array(qlabels), np.array(qweights)),
    }
    current["question"] = question_model
    calibration = Calibration.of(current)
    likelihoods = np.array(
        [
            probability(calibration.question.logit(question_features(r.sentences, r.absent_names)))
            if r.sentences
            else 0.0
            for _, r in readings
        ]
    )
    answerable = np.array([q.answerable for q, _ in readings])
    threshold = weighted_quantile(
        likelihoods[answerable],
        np.array([weight_of[group_of(q)] for q, _ in readings])[answerable],
        FALSE_REFUSAL[setup],
    )
    current["threshold"] = threshold
    operating = {}
    for group in sorted({group_of(q) for q, _ in readings}):
        members = np.array([group_of(q) == group for q, _ in readings])
        operating[group] = round(float((likelihoods[members] < threshold).mean()), 3)
    current["provenance"] = {
        "fitted": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "uv run python benchmarks/fit_calibration.py",
        "on": "the tuning half of the trust archive (benchmarks/trust_data.py) and "
        f"{len(off_topic)} ARCD training questions as off-topic",
        "questions": len(readings),
        "refused on the tuning half, by group": operating,
        "false refusal target": FALSE_REFUSAL[setup],
        "sentence recall": SENTENCE_RECALL,
    }
    return current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_option(parser)
    parser.add_argument("--setup", choices=("model", "lexical", "both"), default="both")
    options = parser.parse_args()
    sys.setrecursionlimit(10_000)
    archive = build_archive(options.data)
    articles = write_archive(archive)
    off_topic = arcd_off_topic(options.data)
    setups = ["model", "lexical"] if options.setup == "both" else [options.setup]
    rows = []
    for setup in setups:
        fitted = fit_setup(setup, archive, articles, off_topic, options.data)
        path = CALIBRATIONS / f"{setup}.json"
        path.write_text(json.dumps(fitted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}", flush=True)
        for group, refused in fitted["provenance"]["refused on the tuning half, by group"].items():
            rows.append([setup, group, f"{refused:.3f}"])
        rows.append([setup, "threshold (likelihood)", f"{fitted['threshold']:.3f}"])
    table = markdown_table(["setup", "questions", "refused"], rows)
    print(table)
    if options.setup == "both":
        record(
            TUNING,
            "calibration",
            "\n".join(
                [
                    "## Calibration: ranking, sentences, answerability",
                    "",
                    f"`uv run python benchmarks/fit_calibration.py` — {machine_description()}.",
                    "",
                    "Fitted on the tuning half of the trust archive; the share of each group's "
                    "questions refused at the fitted threshold (at most "
                    f"{FALSE_REFUSAL['model']:.0%} of the answerable ones with the model, "
                    f"{FALSE_REFUSAL['lexical']:.0%} without). The held-out figures are "
                    "benchmarks/trust.py's, in RESULTS.md.",
                    "",
                    table,
                    "",
                ]
            ),
        )


if __name__ == "__main__":
    main()
