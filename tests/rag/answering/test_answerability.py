"""Whether the articles answer a question at all (rag/answering/answerability.py)."""

from __future__ import annotations

import pytest

from rag.answering.answerability import QUESTION_FEATURES, judge, question_features
from rag.answering.sentences import SENTENCE_FEATURES, Sentence
from rag.calibration import Calibration, LinearModel
from rag.text.sentence_units import Unit


def sentence(logit: float, passage: int = 0, **features: float) -> Sentence:
    values = dict.fromkeys(SENTENCE_FEATURES, 0.0) | features
    return Sentence(passage, 0, Unit(((0, 10),), "A sentence."), values, set(), logit)


CALIBRATION = Calibration(
    setup="model",
    ranking=None,
    sentence=LinearModel(SENTENCE_FEATURES, tuple(0.0 for _ in SENTENCE_FEATURES)),
    question=LinearModel(
        QUESTION_FEATURES,
        tuple({"best": 1.0, "absent_names": -4.0}.get(n, 0.0) for n in QUESTION_FEATURES),
    ),
    threshold=0.5,
    sentence_threshold=0.0,
    similarity_scale=0.03,
    background_prior={},
    provenance={},
)


def test_the_question_is_as_answerable_as_its_best_sentence_with_this_model() -> None:
    verdict = judge([sentence(1.0), sentence(-2.0, passage=1)], CALIBRATION)
    assert verdict.answerable and verdict.likelihood == pytest.approx(0.731, abs=1e-3)
    refused = judge([sentence(-1.0)], CALIBRATION)
    assert not refused.answerable


def test_no_sentence_is_no_answer() -> None:
    verdict = judge([], CALIBRATION)
    assert not verdict.answerable and verdict.likelihood == 0.0


def test_a_threshold_can_be_set() -> None:
    assert judge([sentence(-1.0)], CALIBRATION, threshold=0.2).answerable


def test_features_describe_the_best_sentence_and_how_it_stands_out() -> None:
    features = question_features(
        [sentence(2.0, similarity=1.5, coverage=0.8), sentence(0.5, passage=1, similarity=2.5)],
        absent_names=0.5,
    )
    assert features["best"] == 2.0 and features["best_gap"] == 1.5
    assert features["best_coverage"] == 0.8 and features["max_similarity"] == 2.5
    assert features["absent_names"] == 0.5
    assert set(features) == set(QUESTION_FEATURES)


def test_names_no_article_holds_lower_the_likelihood() -> None:
    held = judge([sentence(1.0)], CALIBRATION)
    missing = judge([sentence(1.0)], CALIBRATION, absent_names=1.0)
    assert missing.likelihood < held.likelihood
