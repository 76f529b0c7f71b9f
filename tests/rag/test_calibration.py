"""The fitted numbers of each setup (rag/calibration.py): they load, and name only features
the code computes."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.answerability import QUESTION_FEATURES
from rag.answering.sentences import SENTENCE_FEATURES
from rag.calibration import (
    Calibration,
    LinearModel,
    calibration_for,
    probability,
    reference_vectors,
)
from rag.retrieval.hybrid import RANKING_FEATURES


@pytest.mark.parametrize("setup", ["model", "lexical"])
def test_each_setup_ships_its_calibration(setup: str) -> None:
    calibration = calibration_for(setup)  # type: ignore[arg-type]
    assert calibration.setup == setup
    assert set(calibration.sentence.names) <= set(SENTENCE_FEATURES)
    assert set(calibration.question.names) <= set(QUESTION_FEATURES)
    assert 0.0 < calibration.threshold < 1.0
    assert calibration.provenance["command"] == "uv run python benchmarks/fit_calibration.py"
    if setup == "model":
        assert calibration.ranking is not None
        assert calibration.ranking.names == RANKING_FEATURES
        vector = np.ones(384, np.float32) / np.sqrt(384)
        assert calibration.prior("passages", vector, "en", "ar") is not None
        assert calibration.prior("passages", np.ones(768), "en", "ar") is None  # another space
    else:
        assert calibration.ranking is None


def test_a_linear_model_standardises_as_fitted() -> None:
    model = LinearModel(("a", "b"), (2.0, -1.0), intercept=0.5, mean=(1.0, 0.0), scale=(2.0, 1.0))
    assert model.logit({"a": 3.0, "b": 1.0}) == pytest.approx(0.5 + 2.0 * 1.0 - 1.0)
    assert model.logits(np.array([[1.0, 0.0]])).tolist() == pytest.approx([0.5])
    # Its weight per unit of the raw feature, for ranking.
    assert model.weight("a") == pytest.approx(1.0)


def test_a_calibration_round_trips_through_its_json() -> None:
    calibration = calibration_for("model")
    assert Calibration.of(calibration.as_dict()) == calibration


def test_probability_saturates_without_overflow() -> None:
    assert probability(0.0) == 0.5
    assert probability(1e6) == pytest.approx(1.0)
    assert probability(-1e6) == pytest.approx(0.0)


def test_an_unknown_question_language_falls_back_to_english_priors() -> None:
    calibration = calibration_for("model")
    vector = np.ones(384, np.float32) / np.sqrt(384)
    english = calibration.prior("passages", vector, "en", "ar")
    assert calibration.prior("passages", vector, "de", "ar") == english
    assert calibration.prior("passages", vector, "en", "xx") is None


def test_the_prior_follows_the_question() -> None:
    # Nonsense is about as near every text: so is the reference, and the prior with it.
    calibration = calibration_for("model")
    reference = reference_vectors("model")
    near = reference["passages:ar"].mean(axis=0)
    near /= np.linalg.norm(near)
    far = -near
    assert calibration.prior("passages", near, "en", "ar") > calibration.prior(  # type: ignore[operator]
        "passages", far, "en", "ar"
    )
