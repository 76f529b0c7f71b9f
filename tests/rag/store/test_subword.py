from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import rag.store.subword
from rag.store.subword import SubwordIndex, gram_hashes, sum_postings

DOCUMENTS = [
    "microsoft achat tiktok etats unis",
    "amazon interdit tiktok tiktok telephones",
    "شركة تيك توك الصينية بايت دانس",
    "بشراء تيك توك",
    "",
]


def grams(words: str, n: int = 4) -> list[str]:
    out = []
    for word in words.split():
        padded = f" {word} "
        out += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return out


def reference_scores(
    documents: list[str], query: str, k1: float, b: float, n: int = 4
) -> list[float]:
    """Lucene BM25 over character n-grams of padded words, written out plainly."""
    docs = [grams(d, n) for d in documents]
    average = sum(len(d) for d in docs) / len(docs)
    scores = []
    for doc in docs:
        score = 0.0
        for gram in set(grams(query, n)):
            df = sum(1 for d in docs if gram in d)
            if not df:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            tf = doc.count(gram)
            score += idf * tf / (tf + k1 * (1 - b + b * len(doc) / average))
        scores.append(score)
    return scores


@pytest.mark.parametrize(
    "query", ["tiktok", "interdit telephone", "توك الصين", "شراء", "nothing here"]
)
@pytest.mark.parametrize(("k1", "b"), [(1.0, 0.9), (1.5, 0.75)])
def test_scores_match_the_reference_bm25(query: str, k1: float, b: float) -> None:
    index = SubwordIndex.build(DOCUMENTS, k1=k1, b=b)
    assert np.allclose(index.scores(query), reference_scores(DOCUMENTS, query, k1, b))


def test_clitic_forms_share_grams() -> None:
    index = SubwordIndex.build(DOCUMENTS, k1=1.0, b=0.9)
    scores = index.scores("شراء")
    assert scores[3] > 0 and scores[3] == scores.max()


def test_grams_stay_within_words() -> None:
    assert len(gram_hashes("tiktok")) == 5  # " tik" "tikt" "ikto" "ktok" "tok "
    assert len(gram_hashes("ab cd")) == 2  # " ab " and " cd ", nothing across the space
    assert len(gram_hashes("a")) == 0


def test_batches_give_the_same_index(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = SubwordIndex.build(DOCUMENTS, k1=1.0, b=0.9)
    monkeypatch.setattr(rag.store.subword, "BUILD_BATCH_CHARS", 10)
    batched = SubwordIndex.build(DOCUMENTS, k1=1.0, b=0.9)
    assert np.array_equal(whole.grams, batched.grams)
    assert np.allclose(whole.scores("tiktok شركة"), batched.scores("tiktok شركة"))


def test_empty_corpus_and_empty_documents() -> None:
    assert len(SubwordIndex.build([], k1=1.0, b=0.9).scores("tiktok")) == 0
    index = SubwordIndex.build(["", ""], k1=1.0, b=0.9)
    assert index.scores("tiktok").tolist() == [0.0, 0.0]


def test_save_and_load(tmp_path: Path) -> None:
    index = SubwordIndex.build(DOCUMENTS, k1=1.0, b=0.9)
    index.save(tmp_path / "subword")
    loaded = SubwordIndex.load(tmp_path / "subword")
    assert len(loaded) == len(DOCUMENTS)
    assert np.allclose(loaded.scores("tiktok"), index.scores("tiktok"))


def test_sum_postings_with_and_without_column_weights() -> None:
    # Columns 0 and 1 of the 3x2 matrix [[1, 0], [2, 3], [0, 4]], stored by column.
    indptr = np.array([0, 2, 4])
    rows = np.array([0, 1, 1, 2])
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert sum_postings(indptr, rows, values, np.array([0, 1]), 3).tolist() == [1, 5, 4]
    assert sum_postings(indptr, rows, values, np.array([1]), 3).tolist() == [0, 3, 4]
    weighted = sum_postings(indptr, rows, values, np.array([0, 1]), 3, np.array([10.0, 1.0]))
    assert weighted.tolist() == [10, 11, 1]
