"""Extractive answers: the sentences of the best passages that answer the question, cited."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.analysis import analyzer_for, normalize
from rag.chunking import split_sentences
from rag.models import Answer, Citation, RetrievedPassage
from rag.prompts import localized_prompt, localized_table
from rag.retrieve import QueryTerms, semantic_evidence

MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 900
MIN_SENTENCE_CHARS = 20
MAX_SENTENCE_CHARS = 700
# Sentences of this many of the best passages are compared with the question by meaning,
# when the passage's words cover less of the question than LEXICAL_ENOUGH (across
# languages, or in other words): embedding a sentence costs about 20 ms on two cores, so
# they are few, and cached.
MEANING_PASSAGES = 3
LEXICAL_ENOUGH = 0.5
MEANING_WEIGHT = 1.0
SENTENCE_FLOOR = 0.78
SENTENCE_CEILING = 0.90
# A sentence holding what a how-many/when/why question asks for (a number, a date, a
# cause) leads.
ASKED_VALUE_BONUS = 0.3

# "How many", "how much", "when", "combien", "quand", "كم", "متى", "في أي عام" …
_ASKS_NUMBER_RE = re.compile(
    r"\b(how (many|much|long|old)|combien|quel(le)?s? (nombre|montant|prix|âge))\b|(^|\s)كم(\s|$)|"
    r"(^|\s)(ما|كم) (عدد|قيمة|مبلغ|سعر)",
    re.IGNORECASE,
)
_ASKS_DATE_RE = re.compile(
    r"\b(when|what (year|date|day|month)|quand|en quelle année|à quelle date|quelle date)\b|"
    r"(^|\s)متى(\s|$)|(في|ب)(أي|اي) (عام|سنة|يوم|شهر|تاريخ)",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(r"[0-9\u0660-\u0669\u06F0-\u06F9]")
_MONTHS_RE = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
    r"novembre|décembre)\b|يناير|فبراير|مارس|أبريل|مايو|يونيو|يوليو|أغسطس|سبتمبر|أكتوبر|"
    r"نوفمبر|ديسمبر",
    re.IGNORECASE,
)
_NUMBER_WORDS_RE = re.compile(
    r"\b(million|millions|billion|billions|milliard|milliards|thousand|mille|hundred|cent)\b|"
    r"مليون|ملايين|مليار|ألف|آلاف",
    re.IGNORECASE,
)


_ASKS_REASON_RE = re.compile(
    r"\b(why|for what reason|pourquoi|pour quelle raison)\b|"
    r"(^|\s)(لماذا|لم|ما سبب|ما هو سبب)(\s|$)",
    re.IGNORECASE,
)
_REASON_RE = re.compile(
    r"\b(because|due to|since|as a result|after|over concerns?|parce que|car|en raison|à cause|"
    r"suite à|après)\b|بسبب|لأن|نظرا|بعد أن|إثر|مخاوف",
    re.IGNORECASE,
)


def asked_value(question: str) -> str | None:
    """What the question asks for, when it is a "number", a "date" or a "reason"."""
    if _ASKS_DATE_RE.search(question):
        return "date"
    if _ASKS_NUMBER_RE.search(question):
        return "number"
    if _ASKS_REASON_RE.search(question):
        return "reason"
    return None


def holds_value(sentence: str, kind: str) -> bool:
    """Whether `sentence` gives a value of the kind asked for."""
    if kind == "date":
        return bool(_MONTHS_RE.search(sentence) or _NUMBER_RE.search(sentence))
    if kind == "reason":
        return bool(_REASON_RE.search(sentence))
    return bool(_NUMBER_RE.search(sentence) or _NUMBER_WORDS_RE.search(sentence))


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


def language_note(question_language: str, passage: RetrievedPassage) -> str:
    """ "From the Arabic article “…”:", in the question's language, before sentences quoted
    from an article in another language."""
    templates = localized_table("from_article", question_language)
    template = templates.get(passage.language) or templates["other"]
    title = " ".join(passage.title.split())
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    return template.replace("${title}", title)


class SentenceVectors:
    """Sentence embeddings, computed on demand and kept (least recently used first out)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], capacity: int = 20_000) -> None:
        self._embed = embed
        self._capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._embed(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            found = []
            for text in texts:
                self._cache.move_to_end(text)
                found.append(self._cache[text])
            return found


class ExtractiveAnswerer:
    """Picks and cites sentences; abstains when the best evidence is too weak.

    A sentence is scored by the question's terms it holds and, when the question has an
    embedding, by its similarity to the question: that is what lets an English question
    be answered from an Arabic article. Sentences in the question's language come first;
    those of an article in another language follow a short note naming it.
    """

    def __init__(
        self, *, min_evidence: float, sentence_vectors: SentenceVectors | None = None
    ) -> None:
        self.min_evidence = min_evidence
        self.sentence_vectors = sentence_vectors

    def _meanings(
        self, query: QueryTerms, passages: Sequence[RetrievedPassage]
    ) -> dict[tuple[int, int], float]:
        """Semantic evidence of the sentences of the best passages, by (passage, start)."""
        if query.vector is None or self.sentence_vectors is None:
            return {}
        keys, texts = [], []
        for position, passage in enumerate(passages[:MEANING_PASSAGES]):
            if passage.lexical_evidence >= LEXICAL_ENOUGH:
                continue
            for span in split_sentences(passage.text):
                text = passage.text[span.start : span.end]
                if MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS:
                    keys.append((position, span.start))
                    texts.append(text)
        if not texts:
            return {}
        vectors = self.sentence_vectors.of(texts)
        return {
            key: semantic_evidence(float(vector @ query.vector), SENTENCE_FLOOR, SENTENCE_CEILING)
            for key, vector in zip(keys, vectors, strict=True)
        }

    def _candidates(
        self, question: str, query: QueryTerms, passages: Sequence[RetrievedPassage]
    ) -> list[_Candidate]:
        meanings = self._meanings(query, passages)
        wanted = asked_value(question)
        candidates = []
        for position, passage in enumerate(passages):
            analyzer = analyzer_for(passage.language)
            rank_bonus = 0.05 / (1 + position)
            for span in split_sentences(passage.text):
                text = passage.text[span.start : span.end]
                if not MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS:
                    continue
                coverage, found = query.coverage(set(analyzer.terms(text)))
                meaning = meanings.get((position, span.start), 0.0)
                if not found and meaning <= 0:
                    continue
                score = coverage + MEANING_WEIGHT * meaning + 0.15 * passage.evidence + rank_bonus
                if wanted and holds_value(text, wanted):
                    score += ASKED_VALUE_BONUS
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
        if (not query.weights and query.vector is None) or best_evidence < self.min_evidence:
            return abstention(question, language, notices)
        candidates = sorted(self._candidates(question, query, passages), key=lambda c: -c.score)
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

        # The question's language first; the order of merit within each language.
        chosen.sort(key=lambda c: passages[c.passage].language != language)
        number_of: dict[int, int] = {}
        highlights: dict[int, list[tuple[int, int]]] = {}
        parts = []
        noted: int | None = None
        for candidate in chosen:
            passage = passages[candidate.passage]
            if passage.language != language and passage.language != "und":
                if noted != candidate.passage:
                    parts.append(language_note(language, passage))
                    noted = candidate.passage
            else:
                noted = None
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
