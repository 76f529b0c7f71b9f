"""Extractive answers: the sentences of the best passages that answer the question, cited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.analysis import analyzer_for, normalize
from rag.chunking import split_sentences
from rag.models import Answer, Citation, RetrievedPassage
from rag.prompts import localized_prompt
from rag.retrieve import QueryTerms

MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 900
MIN_SENTENCE_CHARS = 20
MAX_SENTENCE_CHARS = 700


@dataclass
class _Candidate:
    passage: int
    start: int
    end: int
    text: str
    score: float
    found: set[str]


def abstention(question: str, language: str, notices: Sequence[str] = ()) -> Answer:
    return Answer(
        question=question,
        answer=localized_prompt("abstain", language),
        abstained=True,
        language=language,
        citations=[],
        notices=list(notices),
    )


class ExtractiveAnswerer:
    """Picks and cites sentences; abstains when the best evidence is too weak."""

    def __init__(self, *, min_evidence: float) -> None:
        self.min_evidence = min_evidence

    def _candidates(
        self, query: QueryTerms, passages: Sequence[RetrievedPassage]
    ) -> list[_Candidate]:
        candidates = []
        for position, passage in enumerate(passages):
            analyzer = analyzer_for(passage.language)
            rank_bonus = 0.05 / (1 + position)
            for span in split_sentences(passage.text):
                text = passage.text[span.start : span.end]
                if not MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS:
                    continue
                coverage, found = query.coverage(set(analyzer.terms(text)))
                if not found:
                    continue
                score = coverage + 0.15 * passage.evidence + rank_bonus
                candidates.append(_Candidate(position, span.start, span.end, text, score, found))
        return candidates

    def answer(
        self,
        question: str,
        language: str,
        query: QueryTerms,
        passages: Sequence[RetrievedPassage],
        notices: Sequence[str] = (),
    ) -> Answer:
        best_evidence = max((p.evidence for p in passages), default=0.0)
        if not query.weights or best_evidence < self.min_evidence:
            return abstention(question, language, notices)
        candidates = sorted(self._candidates(query, passages), key=lambda c: -c.score)
        if not candidates:
            return abstention(question, language, notices)

        chosen: list[_Candidate] = []
        covered: set[str] = set()
        seen_texts: set[str] = set()
        best = candidates[0].score
        length = 0
        for candidate in candidates:
            key = normalize(candidate.text)
            if key in seen_texts:
                continue
            gain = candidate.found - covered
            if chosen and (
                candidate.score < 0.5 * best or (not gain and candidate.score < 0.85 * best)
            ):
                continue
            if chosen and length + len(candidate.text) > MAX_ANSWER_CHARS:
                continue
            chosen.append(candidate)
            covered |= candidate.found
            seen_texts.add(key)
            length += len(candidate.text)
            if len(chosen) == MAX_SENTENCES:
                break

        number_of: dict[int, int] = {}
        highlights: dict[int, list[tuple[int, int]]] = {}
        parts = []
        for candidate in chosen:
            n = number_of.setdefault(candidate.passage, len(number_of) + 1)
            highlights.setdefault(candidate.passage, []).append((candidate.start, candidate.end))
            parts.append(f"{candidate.text} [{n}]")
        citations = [
            Citation.of(n, passages[position], sorted(highlights[position]))
            for position, n in number_of.items()
        ]
        return Answer(
            question=question,
            answer=" ".join(parts),
            abstained=False,
            language=language,
            citations=citations,
            notices=list(notices),
        )
