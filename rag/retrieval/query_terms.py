"""A question's terms and embedding, and how much a text covers it: by words (term
coverage, near forms included) or by meaning (semantic evidence)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

# A near form of a question's term (another inflection, a clitic) counts this much.
RELATED_CREDIT = 0.6
# Cosine similarities of the bundled multilingual-e5-small mapped to evidence 0..1
# (semantic_evidence); chosen on the tuning split (benchmarks/TUNING.md).
SEMANTIC_FLOOR = 0.78
SEMANTIC_CEILING = 0.86
RELATIVE_FLOOR = 0.0
RELATIVE_CEILING = 0.03
_ARABIC_CLITICS = frozenset("بلكف")


def _related(query_term: str, terms: Collection[str], prefixes: dict[int, set[str]]) -> bool:
    """Whether a passage term is a near form of the query term.

    Stems of one word in two languages or two inflections ("storag"/"store",
    "بشراء"/"شراء") often share a long prefix or differ by a one-letter clitic.
    `prefixes` caches the passage terms' prefixes by length, for this passage.
    """
    if len(query_term) >= 4:
        length = max(4, len(query_term) - 2)
        if length not in prefixes:
            prefixes[length] = {term[:length] for term in terms if len(term) >= length}
        if query_term[:length] in prefixes[length]:
            return True
        if any(query_term[:end] in terms for end in range(4, len(query_term))):
            return True
    if query_term[:1] in _ARABIC_CLITICS and query_term[1:] in terms:
        return True
    return any(clitic + query_term in terms for clitic in _ARABIC_CLITICS)


def semantic_evidence(
    similarity: float, floor: float = SEMANTIC_FLOOR, ceiling: float = SEMANTIC_CEILING
) -> float:
    """A cosine similarity to the question as evidence from 0 to 1, like term coverage.

    E5's similarities crowd into a narrow band (about 0.75 to 0.9 for any two news
    texts), so the band is stretched by a floor and ceiling calibrated on the tuning
    split rather than taken as it is or scaled by the best.
    """
    return min(1.0, max(0.0, (similarity - floor) / (ceiling - floor)))


def passage_semantic_evidence(similarity: float, margin: float) -> float:
    """A passage's evidence by meaning: its similarity to the question, and its margin
    over the other passages of its language (a passage that is merely in the question's
    language, or on the corpus's general topic, is close but not closer than its
    neighbours), each stretched to 0..1."""
    return semantic_evidence(similarity) * semantic_evidence(
        margin, RELATIVE_FLOOR, RELATIVE_CEILING
    )


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms with their weights (inverse document frequencies), and
    its embedding when the vector ranking is on."""

    weights: dict[str, float]
    vector: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls,
        terms: Sequence[str],
        idf: Callable[[str], float],
        vector: np.ndarray | None = None,
    ) -> QueryTerms:
        return cls({term: idf(term) for term in dict.fromkeys(terms)}, vector)

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def coverage(self, terms: Collection[str]) -> tuple[float, set[str]]:
        """Weighted share of the question's terms found in `terms`, and which were found."""
        total = self.total
        if total <= 0:
            return 0.0, set()
        found: set[str] = set()
        score = 0.0
        prefixes: dict[int, set[str]] = {}
        for term, weight in self.weights.items():
            if term in terms:
                score += weight
                found.add(term)
            elif _related(term, terms, prefixes):
                score += RELATED_CREDIT * weight
                found.add(term)
        return score / total, found
