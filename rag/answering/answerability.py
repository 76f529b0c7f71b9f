"""Whether the articles answer a question at all: one calibrated likelihood.

Similarity alone cannot tell an on-topic question the articles don't answer from one they
do: in a corpus that tells one story every passage is close to every question. So the
likelihood combines what can: how likely the best sentence is to answer (the sentence
model, rag/answering/sentences.py), how far it stands out from the next, whether it holds
the question's rarer terms (weighed by rarity in this corpus, topic words of its article
discounted) or its names in the other script, whether it gives the kind of value asked
for, and how strong the best passage is. The weights and the threshold, chosen for at
most one answerable question in ten refused, are the calibration's (rag/calibration.py);
every front end gets the decision through the engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.sentences import Sentence
from rag.calibration import Calibration, probability

QUESTION_FEATURES = (
    "best",
    "best_gap",
    "mass",
    "best_similarity",
    "best_coverage",
    "best_focus",
    "best_typed",
    "wanted",
    "top_score",
    "margin",
    "sentence_margin",
    "max_similarity",
    "max_focus",
    "best_same_language",
    "best_names",
    "best_named",
    "max_named",
    "absent_names",
)


@dataclass(frozen=True)
class Answerability:
    """The likelihood that the articles answer the question, and the verdict."""

    likelihood: float
    answerable: bool
    features: dict[str, float]


def question_features(sentences: Sequence[Sentence], absent_names: float = 0.0) -> dict[str, float]:
    """The question's features from its weighed sentences (none: all zero), and the share
    of its names that no indexed passage holds."""
    if not sentences:
        return dict.fromkeys(QUESTION_FEATURES, 0.0) | {"absent_names": absent_names}
    ordered = sorted(sentences, key=lambda s: -s.logit)
    best = ordered[0]
    second = ordered[1].logit if len(ordered) > 1 else best.logit - 10.0
    top = max(s.logit for s in sentences)
    mass = top + math.log(sum(math.exp(s.logit - top) for s in sentences))
    first_passage = [s for s in sentences if s.passage == min(x.passage for x in sentences)]
    return {
        "best": best.logit,
        "best_gap": best.logit - second,
        "mass": mass,
        "best_similarity": best.features["similarity"],
        "best_coverage": best.features["coverage"],
        "best_focus": best.features["focus"],
        "best_typed": best.features["typed"],
        "wanted": best.features["wanted"],
        "top_score": best.features["top_score"],
        "margin": first_passage[0].features["margin"],
        "sentence_margin": first_passage[0].features["sentence_margin"],
        "max_similarity": max(s.features["similarity"] for s in sentences),
        "max_focus": max(s.features["focus"] for s in sentences),
        "best_same_language": best.features["same_language"],
        "best_names": best.features["names"],
        "best_named": best.features["named"],
        "max_named": max(s.features["named"] for s in sentences),
        "absent_names": absent_names,
    }


def judge(
    sentences: Sequence[Sentence],
    calibration: Calibration,
    threshold: float | None = None,
    absent_names: float = 0.0,
) -> Answerability:
    """The likelihood the articles answer, from the question's weighed sentences;
    answerable when it reaches `threshold` (default: the calibration's)."""
    features = question_features(sentences, absent_names)
    likelihood = probability(calibration.question.logit(features)) if sentences else 0.0
    limit = calibration.threshold if threshold is None else threshold
    return Answerability(likelihood, bool(sentences) and likelihood >= limit, features)
