"""The nearest passages and sentences of each language of an index, fast at any size.

Chroma answers a query filtered by metadata by first listing every record that matches:
over an archive of 11,263 Arabic articles, a search for the Arabic passages nearest a
question took 0.2 s, and for the nearest sentences 0.5 s, where the same searches without
the filter took about 12 ms (`benchmarks/scale.py`). So a language with many passages is
searched without a filter, keeping its own hits. One crowded out of that search by the
question's own language is searched again, unfiltered and further (for 8,000 ids, about
30 ms there; asking for their metadata too took 0.3-1.5 s, so sentences are told by their
ids), and with the filter only if too few still came back. A language with few passages
is searched exactly, in memory, over its vectors, read from the store once per snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

# A language with at most this many passages is searched in memory (its passages' and
# sentences' vectors, about 15 MB at this size).
EXACT_PASSAGES = 2000
# An unfiltered search asks for this many times a language's wanted hits over its share.
OVERFETCH = 2.0
# Sentences a passage has, for how far a second unfiltered search must reach (about 3.6 in
# news: SaudiNewsNet).
SENTENCES_PER_PASSAGE_GUESS = 4


class VectorSearch(Protocol):
    """What this module needs of the vector store (rag/store/vectors.py)."""

    def query(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, float]]: ...

    def query_sentences(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, int, float]]: ...

    def passage_vectors(self, passage_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def sentence_vectors(self, passage_ids: Sequence[str]) -> dict[tuple[str, int], np.ndarray]: ...


@dataclass
class LanguageHits:
    """Per language, the nearest passages (id, cosine similarity) and sentences (passage
    id, start, cosine similarity), nearest first."""

    passages: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    sentences: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _InMemory:
    """A small language's vectors, unit length: passages, and sentences by passage."""

    asked: Sequence[str]  # the language's passage ids it was read for
    passage_ids: list[str]
    passages: np.ndarray
    sentence_keys: list[tuple[str, int]]
    sentences: np.ndarray


def _unit_rows(rows: list[np.ndarray]) -> np.ndarray:
    if not rows:
        return np.zeros((0, 0), np.float32)
    matrix = np.asarray(rows, np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _best(similarities: np.ndarray, keys: Sequence[object], k: int) -> list[int]:
    """Positions of the `k` highest similarities, ties by key."""
    if k <= 0 or not len(similarities):
        return []
    candidates = np.argsort(-similarities, kind="stable")[: min(len(similarities), 4 * k + 8)]
    ordered = sorted(candidates, key=lambda i: (-float(similarities[i]), keys[i]))
    return [int(i) for i in ordered[:k]]


class NearestPerLanguage:
    """Searches a vector store for each language's nearest passages and sentences; holds
    the in-memory vectors of the small languages of the last snapshot it was given."""

    def __init__(self, exact_passages: int = EXACT_PASSAGES) -> None:
        self.exact_passages = exact_passages
        self._generation: tuple[int, str] | None = None
        self._in_memory: dict[tuple[tuple[int, str], str], _InMemory] = {}

    def search(
        self,
        store: VectorSearch,
        vector: np.ndarray,
        passages: int,
        sentences: int,
        by_language: Mapping[str, Sequence[str]],
        generation: str,
    ) -> LanguageHits:
        """The `passages` nearest passages and `sentences` nearest sentences of each
        language of `by_language` (language: the ids of its passages in the snapshot named
        `generation`). Hits outside `by_language` (vectors an ingest is still writing) are
        left out."""
        snapshot = (id(store), generation)
        if self._generation != snapshot:
            self._generation = snapshot
            self._in_memory = {}
        hits = LanguageHits()
        large = {lang: ids for lang, ids in by_language.items() if len(ids) > self.exact_passages}
        for language, ids in by_language.items():
            if language not in large and ids:
                held = self._in_memory.get((snapshot, language))
                # The same passages can change language under one generation (an ingest
                # that tells languages otherwise relabels them and keeps their vectors).
                if held is None or (held.asked is not ids and list(held.asked) != list(ids)):
                    # Keyed by the snapshot too: a question of the last snapshot still
                    # reading when a new one arrives can't leave its vectors for the next.
                    held = self._in_memory[(snapshot, language)] = self._read(store, ids)
                self._search_in_memory(held, language, vector, passages, sentences, hits)
        if large:
            self._search_large(store, large, by_language, vector, passages, sentences, hits)
        return hits

    @staticmethod
    def _search_in_memory(
        held: _InMemory,
        language: str,
        vector: np.ndarray,
        passages: int,
        sentences: int,
        hits: LanguageHits,
    ) -> None:
        if not held.passage_ids:
            return
        query = _unit_rows([np.asarray(vector, np.float32)])[0]
        found = held.passages @ query
        hits.passages[language] = [
            (held.passage_ids[i], float(found[i])) for i in _best(found, held.passage_ids, passages)
        ]
        if held.sentence_keys:
            found = held.sentences @ query
            hits.sentences[language] = [
                (*held.sentence_keys[i], float(found[i]))
                for i in _best(found, held.sentence_keys, sentences)
            ]

    @staticmethod
    def _read(store: VectorSearch, ids: Sequence[str]) -> _InMemory:
        ordered = sorted(ids)
        stored = store.passage_vectors(ordered)
        passage_ids = [passage_id for passage_id in ordered if passage_id in stored]
        by_sentence = store.sentence_vectors(passage_ids)
        sentence_keys = sorted(by_sentence)
        return _InMemory(
            ids,
            passage_ids,
            _unit_rows([stored[passage_id] for passage_id in passage_ids]),
            sentence_keys,
            _unit_rows([by_sentence[key] for key in sentence_keys]),
        )

    @staticmethod
    def _search_large(
        store: VectorSearch,
        large: Mapping[str, Sequence[str]],
        by_language: Mapping[str, Sequence[str]],
        vector: np.ndarray,
        passages: int,
        sentences: int,
        hits: LanguageHits,
    ) -> None:
        """One unfiltered search each for passages and sentences, asking for enough that
        every large language should find its own nearest among them. A language that did
        not (the question's own language crowds the others out) is searched again,
        unfiltered, as far as every other language could reach, and only if that fails too
        with the filter."""
        language_of = {passage_id: language for language in large for passage_id in large[language]}
        total = sum(len(ids) for ids in by_language.values())
        share = min(len(ids) for ids in large.values()) / total
        as_list = np.asarray(vector, np.float32).tolist()

        asked = min(total, math.ceil(OVERFETCH * passages / share))
        found = _by_language(store.query(as_list, asked), language_of, large, passages)
        short = [lang for lang in large if len(found[lang]) < min(passages, len(large[lang]))]
        if short and asked < total:
            # Crowded out by the question's own language: ask for as many as every other
            # language could put ahead of it (an unfiltered search of thousands of ids takes
            # milliseconds; a filtered one, hundreds).
            widest = min(total, passages + max(total - len(large[lang]) for lang in short))
            if widest > asked:
                again = store.query(as_list, widest)
                found.update(_by_language(again, language_of, large, passages))
                asked = widest
        for language, ids in large.items():
            if len(found[language]) < min(passages, len(ids)) and asked < total:
                found[language] = [
                    hit for hit in store.query(as_list, passages, language) if hit[0] in language_of
                ]
            hits.passages[language] = found[language]

        asked = math.ceil(OVERFETCH * sentences / share)
        got = store.query_sentences(as_list, asked)
        near = _by_language(got, language_of, large, sentences)
        short = [lang for lang in large if len(near[lang]) < sentences]
        if short and len(got) == asked:
            others = max(total - len(large[lang]) for lang in short)
            widest = sentences + SENTENCES_PER_PASSAGE_GUESS * others
            if widest > asked:
                got = store.query_sentences(as_list, widest)
                near.update(_by_language(got, language_of, large, sentences))
                asked = widest
        for language in large:
            # Fewer than asked came back: the collection holds no more, so the filter would
            # find no others.
            if len(near[language]) < sentences and len(got) == asked:
                near[language] = [
                    hit
                    for hit in store.query_sentences(as_list, sentences, language)
                    if hit[0] in language_of
                ]
            hits.sentences[language] = near[language]


Hit = TypeVar("Hit", tuple[str, float], tuple[str, int, float])


def _by_language(
    found: list[Hit],
    language_of: Mapping[str, str],
    large: Mapping[str, Sequence[str]],
    wanted: int,
) -> dict[str, list[Hit]]:
    """The first `wanted` hits (passage id first) of each language in `large`."""
    kept: dict[str, list[Hit]] = {language: [] for language in large}
    for hit in found:
        language = language_of.get(hit[0])
        if language is not None and len(kept[language]) < wanted:
            kept[language].append(hit)
    return kept
