"""BM25 over the character n-grams of words, built and scored with numpy.

Stems miss what n-grams of the words still share: an Arabic word glued to a clitic
the light stemmer leaves on (بشراء, شراء), a name spelled two ways (Chaintron,
Chaitron), a French and an English form of one word. A passage has several times
more n-grams than words, so the index is built in a few vectorised passes rather
than token by token, and n-grams are identified by a 32-bit hash instead of a
vocabulary of strings (a corpus has a few hundred thousand distinct n-grams, so a
handful of them may share a hash: harmless for ranking).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

GRAM_SIZE = 4
HASH_BITS = 32
BUILD_BATCH_CHARS = 4_000_000
_MULTIPLIER = np.uint64(1_000_003)
_HASH_MASK = np.uint64((1 << HASH_BITS) - 1)
_SPACE = np.uint32(ord(" "))


def gram_hashes(words: str, n: int = GRAM_SIZE) -> np.ndarray:
    """Hashes of the n-grams of space-separated `words`, each word padded with spaces.

    A gram never spans two words, so " tiktok " gives " tik", "tikt", "ikto", "ktok",
    "tok "; a word shorter than n - 1 characters gives none.
    """
    codes = np.frombuffer((" " + words + " ").encode("utf-32-le", "surrogatepass"), np.uint32)
    return _hashes_of(codes, n)[0]


def _hashes_of(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the grams within words, and the positions where those grams start."""
    count = len(codes) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    wide = codes.astype(np.uint64)
    hashes = np.full(count, np.uint64(n), dtype=np.uint64)
    within_word = np.ones(count, dtype=bool)
    for offset in range(n):
        hashes = hashes * _MULTIPLIER + wide[offset : offset + count]
        if 0 < offset < n - 1:
            within_word &= codes[offset : offset + count] != _SPACE
    hashes ^= hashes >> np.uint64(29)
    return hashes[within_word] & _HASH_MASK, np.flatnonzero(within_word)


class SubwordIndex:
    """Lucene BM25 over hashed n-grams; postings are stored per gram (CSC)."""

    def __init__(
        self,
        grams: np.ndarray,
        indptr: np.ndarray,
        rows: np.ndarray,
        weights: np.ndarray,
        num_docs: int,
        *,
        n: int = GRAM_SIZE,
    ) -> None:
        self.grams = grams  # sorted gram hashes
        self.indptr = indptr  # postings of grams[i] are rows/weights[indptr[i]:indptr[i+1]]
        self.rows = rows
        self.weights = weights
        self.num_docs = num_docs
        self.n = n

    @classmethod
    def build(
        cls,
        documents: Sequence[str],
        *,
        k1: float,
        b: float,
        n: int = GRAM_SIZE,
    ) -> SubwordIndex:
        """Index `documents`, each a string of space-separated words."""
        num_docs = len(documents)
        # One sort of (gram, document) keys, repeats kept, gives the postings in
        # order and, from the length of each run, the term frequencies. Arrays are freed
        # as soon as they are used, and kept in 32 bits where that is enough: at 29,000
        # news passages there are some 25 million keys, and this build is the peak of an
        # ingest's memory.
        keys = _gram_document_keys(documents, n)
        keys.sort()
        boundary = np.empty(len(keys), dtype=bool)
        boundary[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=boundary[1:])
        run_starts = np.flatnonzero(boundary)
        del boundary
        counts = np.diff(np.append(run_starts, len(keys))).astype(np.float32)
        keys = keys[run_starts]
        del run_starts
        rows = (keys & np.uint64(0xFFFFFFFF)).astype(np.int32)
        keys >>= np.uint64(32)  # now the gram of each posting
        boundary = np.empty(len(keys), dtype=bool)
        boundary[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=boundary[1:])
        gram_starts = np.flatnonzero(boundary)
        del boundary
        grams = keys[gram_starts]
        del keys
        indptr = np.append(gram_starts, len(rows)).astype(np.int64)
        del gram_starts
        doc_freq = np.diff(indptr)
        lengths = np.bincount(rows, weights=counts, minlength=num_docs)
        average = float(lengths.mean()) if num_docs else 0.0
        idf = np.log1p((num_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        # BM25's term weight, computed in place: idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)).
        weights = (lengths * (k1 * b / (average or 1.0)) + k1 * (1.0 - b)).astype(np.float32)[rows]
        weights += counts
        np.divide(counts, weights, out=weights)
        del counts
        weights *= np.repeat(idf, doc_freq)
        return cls(grams, indptr, rows, weights, num_docs, n=n)

    def __len__(self) -> int:
        return self.num_docs

    def scores(self, words: str) -> np.ndarray:
        """BM25 score of every document for the query's words (0 where nothing matches)."""
        hashes = np.unique(gram_hashes(words, self.n))
        at = np.minimum(np.searchsorted(self.grams, hashes), max(len(self.grams) - 1, 0))
        known = at[self.grams[at] == hashes] if len(self.grams) else at[:0]
        return sum_postings(self.indptr, self.rows, self.weights, known, self.num_docs)

    # -- persistence -------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("grams", "indptr", "rows", "weights"):
            np.save(directory / f"{name}.npy", getattr(self, name), allow_pickle=False)
        meta = {"num_docs": self.num_docs, "n": self.n, "hash_bits": HASH_BITS}
        (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SubwordIndex:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("hash_bits") != HASH_BITS:
            raise ValueError("the n-gram index was built with another hash")
        arrays = {
            name: np.load(directory / f"{name}.npy", allow_pickle=False)
            for name in ("grams", "indptr", "rows", "weights")
        }
        return cls(**arrays, num_docs=int(meta["num_docs"]), n=int(meta["n"]))


def _gram_document_keys(documents: Sequence[str], n: int) -> np.ndarray:
    """gram hash << 32 | document row, for every gram occurrence.

    Documents are hashed in batches of a few million characters to bound memory.
    """
    parts: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)]
    first = 0
    while first < len(documents):
        last, size = first, 0
        while last < len(documents) and (last == first or size < BUILD_BATCH_CHARS):
            size += len(documents[last]) + 2
            last += 1
        padded = [" " + text + " " for text in documents[first:last]]
        codes = np.frombuffer("".join(padded).encode("utf-32-le", "surrogatepass"), np.uint32)
        starts = np.cumsum([0] + [len(text) for text in padded[:-1]])
        # Where a gram starts decides its document; a gram that would span two documents
        # has padding spaces inside and is dropped like any other that spans two words.
        hashes, positions = _hashes_of(codes, n)
        rows = np.searchsorted(starts, positions, side="right") - 1 + first
        parts.append((hashes << np.uint64(32)) | rows.astype(np.uint64))
        first = last
    return np.concatenate(parts)


def sum_postings(
    indptr: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    columns: np.ndarray,
    num_rows: int,
    column_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per row, the sum over `columns` of a CSC matrix's stored values.

    With `column_weights`, each stored entry counts as its column's weight instead
    of its value: a weighted count of the columns present in each row.
    """
    starts, ends = indptr[columns], indptr[np.asarray(columns) + 1]
    lengths = ends - starts
    take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    weights = values[take] if column_weights is None else np.repeat(column_weights, lengths)
    return np.bincount(rows[take], weights=weights, minlength=num_rows).astype(np.float64)
