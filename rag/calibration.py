"""The fitted numbers of one embedding setup, in one place.

How passages are ranked with an embedding model, how likely a sentence is to answer a
question, how likely a question is to be answered by the articles at all, and below which
likelihood newsbot says the articles don't say: all are small linear models fitted by
`benchmarks/fit_calibration.py` on the tuning half of the trust benchmark
(benchmarks/trust_data.py), and kept in rag/calibrations/<setup>.json, which that script
writes. Nothing else holds a threshold or a weight of these.

The setups:
- "model": the bundled multilingual-e5-small (and any other embedding model, which is
  ranked and judged with the same numbers);
- "lexical": no model (the hashing embedding, or the model could not be loaded).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np

Setup = Literal["model", "lexical"]


@dataclass(frozen=True)
class LinearModel:
    """A logistic (or ranking) model over named features, standardised as fitted."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float = 0.0
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> LinearModel:
        names = tuple(data["names"])
        return cls(
            names=names,
            weights=tuple(float(w) for w in data["weights"]),
            intercept=float(data.get("intercept", 0.0)),
            mean=tuple(float(m) for m in data.get("mean", [0.0] * len(names))),
            scale=tuple(float(s) for s in data.get("scale", [1.0] * len(names))),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    def weight(self, name: str) -> float:
        return self.weights[self.names.index(name)] / self._scale_of(self.names.index(name))

    def _scale_of(self, index: int) -> float:
        return self.scale[index] if self.scale else 1.0

    def logits(self, features: np.ndarray) -> np.ndarray:
        """One logit per row of `features`, whose columns are `names` in order."""
        matrix = np.asarray(features, dtype=np.float64)
        if self.mean:
            matrix = (matrix - np.asarray(self.mean)) / np.asarray(self.scale)
        result: np.ndarray = matrix @ np.asarray(self.weights) + self.intercept
        return result

    def logit(self, features: Mapping[str, float]) -> float:
        row = np.array([[features[name] for name in self.names]])
        return float(self.logits(row)[0])


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


@dataclass(frozen=True)
class Calibration:
    """Everything fitted for one setup."""

    setup: Setup
    # Fusion of a passage's features into its ranking score (model setup only).
    ranking: LinearModel | None
    # The likelihood that a sentence answers the question (its logit).
    sentence: LinearModel
    # The likelihood that the articles answer the question at all.
    question: LinearModel
    # Below this likelihood, the answer is a refusal.
    threshold: float
    # A sentence whose logit reaches this is taken to answer on its own.
    sentence_threshold: float
    # Similarities are measured in these units above their language's background.
    similarity_scale: float
    # What a language with fewer than `candidates` passages is filled up with, for passages
    # and for sentences (a small archive's passages all tell its one story; a large one's
    # nearest 50 mostly don't): the question's mean similarity to reference texts of the
    # language, rag/calibrations/<setup>.reference.npz (from the tuning half's articles),
    # plus how far a large archive's nearest 50 stand above that, by question language and
    # passage language.
    background_prior: Mapping[str, Mapping[str, Mapping[str, float]]]
    # How and on what it was fitted, and the operating point measured there.
    provenance: Mapping[str, Any]

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Calibration:
        ranking = data.get("ranking")
        return cls(
            setup=data["setup"],
            ranking=LinearModel.of(ranking) if ranking else None,
            sentence=LinearModel.of(data["sentence"]),
            question=LinearModel.of(data["question"]),
            threshold=float(data["threshold"]),
            sentence_threshold=float(data["sentence_threshold"]),
            similarity_scale=float(data.get("similarity_scale", 0.03)),
            background_prior=data.get("background_prior") or {},
            provenance=dict(data.get("provenance", {})),
        )

    def prior(self, kind: str, vector: np.ndarray, question: str, passage: str) -> float | None:
        """The typical background of `kind` ("passages", "sentences") in language `passage`
        for a question in `question` with embedding `vector`; None when not fitted."""
        table = self.background_prior.get(kind, {})
        offset = table.get(question, table.get("en", {})).get(passage)
        reference = reference_vectors(self.setup).get(f"{kind}:{passage}")
        if offset is None or reference is None or reference.shape[1] != len(vector):
            return None  # not fitted, or another embedding's space
        return float((reference @ vector).mean()) + float(offset)

    def as_dict(self) -> dict[str, Any]:
        return {
            "setup": self.setup,
            "ranking": self.ranking.as_dict() if self.ranking else None,
            "sentence": self.sentence.as_dict(),
            "question": self.question.as_dict(),
            "threshold": self.threshold,
            "sentence_threshold": self.sentence_threshold,
            "similarity_scale": self.similarity_scale,
            "background_prior": self.background_prior,
            "provenance": dict(self.provenance),
        }


@cache
def reference_vectors(setup: str) -> dict[str, np.ndarray]:
    """The reference texts' vectors of `setup`, by "<kind>:<language>" ({} if none)."""
    found = resources.files("rag").joinpath("calibrations", f"{setup}.reference.npz")
    if not found.is_file():
        return {}
    with found.open("rb") as stream, np.load(stream) as data:
        return {key: np.asarray(data[key], dtype=np.float32) for key in data.files}


@cache
def calibration_for(setup: Setup) -> Calibration:
    """The calibration shipped for `setup` (rag/calibrations/<setup>.json)."""
    text = resources.files("rag").joinpath("calibrations", f"{setup}.json").read_text("utf-8")
    return Calibration.of(json.loads(text))


def feature_names(models: Sequence[LinearModel]) -> list[str]:
    """Every feature the models read, once each."""
    return list(dict.fromkeys(name for model in models for name in model.names))
