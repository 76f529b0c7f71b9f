"""A question as searched: its terms, embedding and names, and how much a text covers it:
by words (term coverage, near forms included) or by meaning (its margin over the
background of its language)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

# A near form of a question's term (another inflection, a clitic) counts this much.
RELATED_CREDIT = 0.6
# A similarity this many units (rag/calibration.py's similarity_scale) above its language's
# background counts as full evidence by meaning.
FULL_MARGIN = 3.0
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


def semantic_evidence(margin: float) -> float:
    """A similarity's margin over its language's background as evidence from 0 to 1, like
    term coverage."""
    return min(1.0, max(0.0, margin / FULL_MARGIN))


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms with their weights (inverse document frequencies), and
    its embedding when the vector ranking is on. Once searched with a model: each
    language's background similarity for a sentence, and the question's names across
    scripts (rag/retrieval/hybrid.py)."""

    weights: dict[str, float]
    vector: np.ndarray | None = field(default=None, compare=False)
    sentence_background: Mapping[str, float] = field(default_factory=dict, compare=False)
    names: Mapping[str, float] = field(default_factory=dict, compare=False)

    def searched(
        self, *, sentence_background: Mapping[str, float], names: Mapping[str, float]
    ) -> QueryTerms:
        return replace(self, sentence_background=dict(sentence_background), names=dict(names))

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
