"""Each language's nearest passages and sentences, against an exact search in numpy."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.store.index import NewsIndex
from rag.store.lexical import PassageRecord
from rag.store.nearest import NearestPerLanguage
from rag.store.vectors import VectorIndex, connect, location_of
from tests.conftest import SEEDS_DIR, make_settings
from tests.rag.store.test_vectors import seed_records

DIMENSIONS = 8


def vector_of(text: str, toward: np.ndarray | None = None) -> np.ndarray:
    """A fixed pseudo-random unit vector for `text`, or one near `toward`."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    vector = np.random.default_rng(seed).normal(size=DIMENSIONS)
    if toward is not None:
        vector = 4 * toward + 0.3 * vector
    return vector / np.linalg.norm(vector)


class Recording:
    """The vector index, with the language of every search it is asked for."""

    def __init__(self, inner: VectorIndex) -> None:
        self.inner = inner
        self.searched: list[tuple[str, str | None]] = []

    def query(self, vector: list[float], k: int, language: str | None = None) -> Any:
        self.searched.append(("passages", language))
        return self.inner.query(vector, k, language)

    def query_sentences(self, vector: list[float], k: int, language: str | None = None) -> Any:
        self.searched.append(("sentences", language))
        return self.inner.query_sentences(vector, k, language)

    def passage_vectors(self, passage_ids: Sequence[str]) -> Any:
        return self.inner.passage_vectors(passage_ids)

    def sentence_vectors(self, passage_ids: Sequence[str]) -> Any:
        return self.inner.sentence_vectors(passage_ids)


class Archive:
    """Passages in three languages stored with their sentences, each text's vector known."""

    def __init__(self, tmp_path: Path, sizes: dict[str, int], near: dict[str, np.ndarray]):
        settings = make_settings(tmp_path, SEEDS_DIR)
        template = seed_records(settings)[0]
        self.records: list[PassageRecord] = []
        self.vectors: dict[str, np.ndarray] = {}
        for language, size in sizes.items():
            for number in range(size):
                text = f"Passage {number} in {language}. A second sentence, {language} {number}."
                record = dataclasses.replace(
                    template,
                    passage_id=f"{language}-{number:03d}",
                    language=language,
                    text=text,
                    start=0,
                    end=len(text),
                )
                self.records.append(record)
                for piece in [text, *(s.text for s in NewsIndex._sentences(record))]:
                    self.vectors[piece] = vector_of(piece + language, near.get(language))
        self.index = VectorIndex(
            connect(settings.chroma()), settings.collection, location_of(settings.chroma())
        )
        self.index.add(self.records, self.embed, sentences=NewsIndex._sentences)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([self.vectors[text] for text in texts])

    def by_language(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for record in self.records:
            found.setdefault(record.language, []).append(record.passage_id)
        return found

    def exact(self, query: np.ndarray, k: int, sentence_k: int) -> tuple[dict, dict]:  # type: ignore[type-arg]
        """The reference: every vector of a language against the question, in numpy."""
        passages: dict[str, list[tuple[float, str]]] = {}
        sentences: dict[str, list[tuple[float, tuple[str, int]]]] = {}
        for record in self.records:
            passages.setdefault(record.language, []).append(
                (float(self.vectors[record.text] @ query), record.passage_id)
            )
            for span in NewsIndex._sentences(record):
                sentences.setdefault(record.language, []).append(
                    (float(self.vectors[span.text] @ query), (record.passage_id, span.start))
                )
        return (
            {
                language: [key for _, key in sorted(found, key=lambda h: (-h[0], h[1]))[:k]]
                for language, found in passages.items()
            },
            {
                language: [
                    key for _, key in sorted(found, key=lambda h: (-h[0], h[1]))[:sentence_k]
                ]
                for language, found in sentences.items()
            },
        )


def found_ids(hits: Any) -> tuple[dict, dict]:  # type: ignore[type-arg]
    return (
        {language: [p for p, _ in found] for language, found in hits.passages.items()},
        {language: [(p, s) for p, s, _ in found] for language, found in hits.sentences.items()},
    )


QUESTION = vector_of("the question")


@pytest.mark.parametrize("exact_passages", [1000, 0], ids=["in memory", "unfiltered search"])
def test_each_language_gets_its_exact_nearest(tmp_path: Path, exact_passages: int) -> None:
    archive = Archive(tmp_path, {"ar": 40, "en": 25, "fr": 12}, near={})
    store = Recording(archive.index)
    search = NearestPerLanguage(exact_passages)
    hits = search.search(store, QUESTION, 5, 12, archive.by_language(), "g1")
    assert found_ids(hits) == archive.exact(QUESTION, 5, 12)
    for language, found in hits.passages.items():
        for passage_id, similarity in found:
            record = next(r for r in archive.records if r.passage_id == passage_id)
            assert record.language == language
            assert similarity == pytest.approx(
                float(archive.vectors[record.text] @ QUESTION), abs=1e-5
            )
    if exact_passages:
        assert store.searched == []  # nothing asked of Chroma: the vectors are in memory
    else:
        # One search each, no language filter: what costs a large archive 0.2-0.5 s.
        assert store.searched == [("passages", None), ("sentences", None)]


def test_a_language_crowded_out_of_the_unfiltered_search_is_searched_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Arabic passage is nearer the question than any French one: the first search
    returns no French; French is found by a wider unfiltered search, or, if that still
    falls short, by the filtered one."""
    import rag.store.nearest as nearest

    archive = Archive(tmp_path, {"ar": 40, "fr": 20}, near={"ar": QUESTION, "fr": -QUESTION})
    store = Recording(archive.index)
    hits = NearestPerLanguage(0).search(store, QUESTION, 5, 5, archive.by_language(), "g1")
    assert found_ids(hits) == archive.exact(QUESTION, 5, 5)
    assert store.searched == [("passages", None)] * 2 + [("sentences", None)] * 2

    monkeypatch.setattr(nearest, "SENTENCES_PER_PASSAGE_GUESS", 0)
    store.searched.clear()
    hits = NearestPerLanguage(0).search(store, QUESTION, 5, 5, archive.by_language(), "g1")
    assert found_ids(hits) == archive.exact(QUESTION, 5, 5)
    assert store.searched[-2:] == [("sentences", None), ("sentences", "fr")]


def test_passages_outside_the_snapshot_are_left_out_and_a_new_snapshot_is_read_again(
    tmp_path: Path,
) -> None:
    archive = Archive(tmp_path, {"ar": 30, "en": 10}, near={})
    by_language = archive.by_language()
    published = {language: ids[:-3] for language, ids in by_language.items()}
    for exact_passages in (1000, 0):
        search = NearestPerLanguage(exact_passages)
        hits = search.search(archive.index, QUESTION, 50, 200, published, "g1")
        seen = {p for found in hits.passages.values() for p, _ in found}
        seen |= {p for found in hits.sentences.values() for p, _, _ in found}
        assert seen == {p for ids in published.values() for p in ids}

    search = NearestPerLanguage(1000)
    before = search.search(archive.index, QUESTION, 3, 3, by_language, "g1")
    # An ingest replaces a passage's vectors and publishes a new snapshot.
    moved = archive.records[0]
    archive.vectors[moved.text] = QUESTION
    for span in NewsIndex._sentences(moved):
        archive.vectors[span.text] = QUESTION
    archive.index.add([moved], archive.embed, sentences=NewsIndex._sentences)
    assert search.search(archive.index, QUESTION, 3, 3, by_language, "g1") == before
    after = search.search(archive.index, QUESTION, 3, 3, by_language, "g2")
    assert after.passages[moved.language][0][0] == moved.passage_id
    assert after.sentences[moved.language][0][0] == moved.passage_id


def test_passages_relabelled_under_the_same_generation_are_searched_in_their_new_language(
    tmp_path: Path,
) -> None:
    """A re-ingest that tells a passage's language otherwise keeps its id, so the
    snapshot's generation stays; its vectors must still move to the new language."""
    archive = Archive(tmp_path, {"ar": 6, "en": 6}, near={})
    by_language = archive.by_language()
    search = NearestPerLanguage(1000)
    search.search(archive.index, QUESTION, 10, 50, by_language, "g1")
    moved = by_language["en"][0]
    relabelled = {"ar": [*by_language["ar"], moved], "en": by_language["en"][1:]}
    hits = search.search(archive.index, QUESTION, 10, 50, relabelled, "g1")
    assert moved in {p for p, _ in hits.passages["ar"]}
    assert moved not in {p for p, _ in hits.passages["en"]}
    assert moved in {p for p, _, _ in hits.sentences["ar"]}


def test_a_search_of_the_last_snapshot_finishing_late_leaves_nothing_for_the_next(
    tmp_path: Path,
) -> None:
    """A question still reading the vectors of the last snapshot when an ingest publishes
    a new one (two Telegram chats at once) must not leave them behind for the next."""
    import threading

    archive = Archive(tmp_path, {"ar": 6}, near={})
    by_language = archive.by_language()
    search = NearestPerLanguage(1000)
    reading, go_on = threading.Event(), threading.Event()

    class Slow(Recording):
        def passage_vectors(self, passage_ids: Sequence[str]) -> Any:
            found = self.inner.passage_vectors(passage_ids)
            reading.set()
            go_on.wait(10)
            return found

    late = threading.Thread(
        target=search.search, args=(Slow(archive.index), QUESTION, 3, 3, by_language, "g1")
    )
    late.start()
    assert reading.wait(10)
    moved = archive.records[0]
    archive.vectors[moved.text] = QUESTION
    for span in NewsIndex._sentences(moved):
        archive.vectors[span.text] = QUESTION
    archive.index.add([moved], archive.embed, sentences=NewsIndex._sentences)
    fresh = Recording(archive.index)
    first = search.search(fresh, QUESTION, 3, 3, by_language, "g2")
    go_on.set()
    late.join()
    again = search.search(fresh, QUESTION, 3, 3, by_language, "g2")
    assert first.passages["ar"][0][0] == moved.passage_id
    assert again == first
