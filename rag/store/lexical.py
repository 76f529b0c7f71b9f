"""The lexical side, saved as versioned snapshots: a bm25s index over the analysed
terms of the passages, and a BM25 index over the character n-grams of their words.

A snapshot is also the catalogue of what is indexed (every passage's text, span and
article), so it is the single record of truth that the vector store is reconciled
against. Snapshots are written aside and published by replacing one pointer file,
so a reader never sees a half-written one.
"""

from __future__ import annotations

import bisect
import collections
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import bm25s
import numpy as np

from rag.errors import IndexUnavailableError
from rag.store.subword import SubwordIndex, sum_postings
from rag.text.transliteration import is_arabic_word, skeletons

# A skeleton this long that begins another, or ends one letter short of it, is the same
# name spelled in another script ("LNKT" for "LNKTN").
PREFIX_SKELETON = 4

# bm25s sets its own logger to DEBUG on import; let the application's level decide.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

SNAPSHOT_FORMAT = 2
POINTER = "CURRENT"
# BM25 parameters of the n-gram index, chosen on the tuning split (benchmarks/tune.py);
# the word index keeps bm25s's defaults (k1 1.5, b 0.75).
SUBWORD_K1 = 1.0
SUBWORD_B = 0.9


@dataclass(frozen=True)
class PassageRecord:
    """One indexed passage and the article it comes from.

    An article is identified by the path an ingest was given (`root`: a folder, ending
    with "/", or a file named on its own) and its `name` there (its path in the folder).
    `source`, what readers see, is that name, or more of the path where another indexed
    article has the same name (`with_source_labels`). Indexes from before roots were kept
    have neither: their `source` is the name.
    """

    passage_id: str
    article_id: str
    source: str
    path: str
    doc_hash: str
    title: str
    language: str
    start: int
    end: int
    text: str
    terms: str  # the analysed terms, space-joined, so rebuilds need not re-analyse
    words: str = ""  # the words the terms come from, unstemmed, for the n-gram index
    root: str = ""
    name: str = ""

    def term_list(self) -> list[str]:
        return self.terms.split()

    @property
    def found_at(self) -> PurePosixPath:
        """Where the ingest found the article: the root's path, then its name."""
        name = self.name or self.source
        if not self.root:
            return PurePosixPath(name)
        if self.root.endswith("/"):
            return PurePosixPath(self.root) / name
        return PurePosixPath(self.root)


def with_source_labels(records: Sequence[PassageRecord]) -> list[PassageRecord]:
    """`records`, each `source` set to the shortest end of where its article was found that
    is at least its name and that no other article's `source` shares: `story.txt` alone;
    `x/story.txt` and `y/story.txt` when `x/` and `y/` were ingested each with one."""
    found: dict[str, PurePosixPath] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for record in records:
        if record.path not in found:
            found[record.path] = record.found_at
            labels[record.path] = PurePosixPath(record.name or record.source).parts
    while True:
        sharing: dict[tuple[str, ...], list[str]] = collections.defaultdict(list)
        for path, label in labels.items():
            sharing[label].append(path)
        longer = False
        for label, paths in sharing.items():
            if len(paths) < 2:
                continue
            for path in paths:
                parts = found[path].parts
                if len(label) < len(parts):
                    labels[path] = parts[-len(label) - 1 :]
                    longer = True
        if not longer:
            break
    shown = {path: str(PurePosixPath(*label)) for path, label in labels.items()}
    return [
        record
        if record.source == shown[record.path]
        else replace(record, source=shown[record.path])
        for record in records
    ]


def generation_of(passage_ids: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for passage_id in sorted(passage_ids):
        digest.update(passage_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]


class LexicalIndex:
    """BM25 over a fixed list of passages; rows are positions in `records`."""

    def __init__(
        self,
        records: Sequence[PassageRecord],
        bm25: bm25s.BM25 | None,
        *,
        subword: SubwordIndex | None = None,
        generation: str,
        embedding: str,
    ) -> None:
        self.records = with_source_labels(records)
        self.bm25 = bm25
        self.subword = subword
        self.generation = generation
        self.embedding = embedding
        self.row_of = {record.passage_id: row for row, record in enumerate(self.records)}
        self._doc_freq: np.ndarray | None = None
        self._article_terms: dict[str, list[set[str]]] = {}

    @classmethod
    def build(cls, records: Sequence[PassageRecord], *, embedding: str) -> LexicalIndex:
        bm25 = None
        subword = None
        if records:
            bm25 = bm25s.BM25()
            bm25.index([record.term_list() or [""] for record in records], show_progress=False)
            subword = SubwordIndex.build(
                [record.words for record in records], k1=SUBWORD_K1, b=SUBWORD_B
            )
        return cls(
            records,
            bm25,
            subword=subword,
            generation=generation_of(r.passage_id for r in records),
            embedding=embedding,
        )

    def __len__(self) -> int:
        return len(self.records)

    @functools.cached_property
    def language_codes(self) -> np.ndarray:
        """The language of each row."""
        return np.array([record.language for record in self.records])

    @functools.cached_property
    def places(self) -> list[tuple[int, int]]:
        """For each row, (k, n) when its passage is the k-th of its article's n passages."""
        rows_of: dict[str, list[int]] = collections.defaultdict(list)
        for row, record in enumerate(self.records):
            rows_of[record.path].append(row)
        places = [(0, 0)] * len(self.records)
        for rows in rows_of.values():
            rows.sort(key=lambda row: self.records[row].start)
            for k, row in enumerate(rows, 1):
                places[row] = (k, len(rows))
        return places

    @functools.cached_property
    def _rows_of_article(self) -> dict[str, list[int]]:
        rows_of: dict[str, list[int]] = collections.defaultdict(list)
        for row, record in enumerate(self.records):
            rows_of[record.path].append(row)
        return dict(rows_of)

    def article_term_sets(self, passage_id: str) -> list[set[str]]:
        """The term sets of every passage of the article `passage_id` is from ([] for a
        passage this snapshot does not hold)."""
        row = self.row_of.get(passage_id)
        if row is None:
            return []
        path = self.records[row].path
        found = self._article_terms.get(path)
        if found is None:
            rows = self._rows_of_article[path]
            found = [set(self.records[r].term_list()) for r in rows]
            if len(self._article_terms) > 10_000:
                self._article_terms.clear()
            self._article_terms[path] = found
        return found

    @functools.cached_property
    def _arabic_skeletons(self) -> tuple[frozenset[str], frozenset[str]]:
        words = {
            word for record in self.records for word in record.words.split() if is_arabic_word(word)
        }
        keys = frozenset().union(*map(skeletons, words)) if words else frozenset()
        prefixes = frozenset(key[:end] for key in keys for end in range(PREFIX_SKELETON, len(key)))
        return keys, prefixes

    @functools.cached_property
    def _vocabulary(self) -> list[str]:
        return sorted(self.bm25.vocab_dict) if self.bm25 is not None else []

    def holds_term(self, term: str) -> bool:
        """Whether a passage holds `term` or a near form of it (the same first letters but
        for the last two, as QueryTerms.coverage counts them)."""
        if self.document_frequency(term) > 0:
            return True
        if len(term) < 5:
            return False
        stem = term[: max(4, len(term) - 2)]
        vocabulary = self._vocabulary
        at = bisect.bisect_left(vocabulary, stem)
        return at < len(vocabulary) and vocabulary[at].startswith(stem)

    def spelled_in_arabic(self, keys: frozenset[str]) -> bool:
        """Whether an indexed word in Arabic script has one of these skeletons
        (rag/text/transliteration.py), give or take a last letter: "لينكد إن" for
        LinkedIn. Built at the first need."""
        held, prefixes = self._arabic_skeletons
        return any(
            key in held or key in prefixes or (len(key) > PREFIX_SKELETON and key[:-1] in held)
            for key in keys
        )

    @functools.cached_property
    def languages(self) -> list[str]:
        """The languages of the passages, most passages first."""
        counts = collections.Counter(record.language for record in self.records)
        return [language for language, _ in counts.most_common()]

    @functools.cached_property
    def ids_by_language(self) -> dict[str, list[str]]:
        """The ids of the passages of each language, in `languages`' order."""
        found: dict[str, list[str]] = {language: [] for language in self.languages}
        for record in self.records:
            found[record.language].append(record.passage_id)
        return found

    def _term_ids(self, terms: Iterable[str]) -> tuple[list[int], list[str]]:
        """Ids of the indexed terms among `terms`, and those terms."""
        vocabulary = self.bm25.vocab_dict if self.bm25 is not None else {}
        known = [term for term in dict.fromkeys(terms) if term in vocabulary]
        return [vocabulary[term] for term in known], known

    def term_scores(self, terms: Iterable[str]) -> np.ndarray:
        """BM25 score of every passage for the query's terms."""
        ids, _ = self._term_ids(terms)
        if self.bm25 is None or not ids:
            return np.zeros(len(self.records))
        matrix = self.bm25.scores
        return sum_postings(
            matrix["indptr"], matrix["indices"], matrix["data"], np.asarray(ids), len(self.records)
        )

    def coverage(self, weights: dict[str, float]) -> np.ndarray:
        """For every passage, the total weight of the query terms it contains."""
        ids, known = self._term_ids(weights)
        if self.bm25 is None or not ids:
            return np.zeros(len(self.records))
        matrix = self.bm25.scores
        return sum_postings(
            matrix["indptr"],
            matrix["indices"],
            matrix["data"],
            np.asarray(ids),
            len(self.records),
            column_weights=np.array([weights[term] for term in known]),
        )

    def subword_scores(self, words: str) -> np.ndarray:
        """BM25 score of every passage for the n-grams of the query's words."""
        if self.subword is None or not words:
            return np.zeros(len(self.records))
        return self.subword.scores(words)

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Rows and BM25 scores of the best `k` passages that share a term with the query."""
        if self.bm25 is None or not terms or k <= 0:
            return []
        scores = self.term_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(row), float(scores[row])) for row in top if scores[row] > 0]

    def document_frequency(self, term: str) -> int:
        if self.bm25 is None:
            return 0
        if self._doc_freq is None:
            self._doc_freq = np.diff(np.asarray(self.bm25.scores["indptr"]))
        token_id = self.bm25.vocab_dict.get(term)
        return 0 if token_id is None else int(self._doc_freq[token_id])

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; unseen terms get the highest weight."""
        n = len(self.records)
        df = self.document_frequency(term)
        return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))

    # -- persistence -------------------------------------------------------------

    def save(self, root: Path) -> Path:
        """Write a snapshot beside the current one and publish it atomically."""
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        try:
            if self.bm25 is not None:
                self.bm25.save(str(staging / "bm25"), show_progress=False)
            if self.subword is not None:
                self.subword.save(staging / "subword")
            with (staging / "passages.jsonl").open("w", encoding="utf-8") as out:
                for record in self.records:
                    out.write(json.dumps(vars(record), ensure_ascii=False) + "\n")
            meta = {
                "format": SNAPSHOT_FORMAT,
                "generation": self.generation,
                "embedding": self.embedding,
                "passages": len(self.records),
                "checksums": _checksums(staging),
            }
            (staging / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            _fsync_tree(staging)
            final = root / f"gen-{self.generation}-{os.getpid()}-{staging.name[-8:]}"
            staging.rename(final)
            _replace_text(root / POINTER, final.name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _remove_old_snapshots(root, keep=final.name)
        return final

    @classmethod
    def current_name(cls, root: Path) -> str | None:
        """The published snapshot's name; None only when no pointer file exists.

        A pointer that is there but empty or garbled is damage, never "nothing indexed
        yet": taking it for that would index the corpus dir over the user's index.
        """
        pointer = root / POINTER
        try:
            name = pointer.read_bytes().decode("utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            if root.is_dir() and any(path.name.startswith("gen-") for path in root.iterdir()):
                raise IndexUnavailableError(
                    f"the index pointer {pointer} is missing, but snapshots are there; "
                    "run `newsbot ingest --rebuild`"
                ) from None
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexUnavailableError(
                f"the index pointer {pointer} cannot be read ({type(exc).__name__}); "
                "run `newsbot ingest --rebuild`"
            ) from None
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise IndexUnavailableError(
                f"the index pointer {pointer} is damaged (it names no snapshot); "
                "run `newsbot ingest --rebuild`"
            )
        return name

    @classmethod
    def load(cls, root: Path, name: str | None = None) -> LexicalIndex | None:
        """The published snapshot (or the one called `name`), or None if nothing was
        ever indexed here.

        Raises ValueError or OSError when a snapshot is there but unreadable.
        """
        name = name or cls.current_name(root)
        if name is None:
            return None
        directory = root / name
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(
                f"it was written by another version of newsbot (snapshot format "
                f"{meta.get('format')}; this version reads format {SNAPSHOT_FORMAT})"
            )
        # Snapshots from before checksums were kept have none to compare.
        expected = meta.get("checksums")
        if expected is not None:
            found = _checksums(directory)
            for file in sorted(set(expected) | set(found)):
                if file not in found:
                    raise ValueError(f"{file} is missing")
                if expected.get(file) != found[file]:
                    raise ValueError(f"{file} is damaged (its checksum changed)")
        records: list[PassageRecord] = []
        with (directory / "passages.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                records.append(PassageRecord(**json.loads(line)))
        if len(records) != meta["passages"]:
            raise ValueError("passage count does not match the snapshot's metadata")
        bm25 = None
        subword = None
        if records:
            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
            subword = SubwordIndex.load(directory / "subword")
            if int(bm25.scores["num_docs"]) != len(records) or len(subword) != len(records):
                raise ValueError("BM25 index size does not match the passages")
        return cls(
            records,
            bm25,
            subword=subword,
            generation=meta["generation"],
            embedding=meta["embedding"],
        )


def _checksums(directory: Path) -> dict[str, int]:
    """CRC-32 of every file of a snapshot but its metadata, by relative path: a flipped
    byte in an array would otherwise be read as a valid index."""
    sums: dict[str, int] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and relative != "meta.json":
            checksum = 0
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    checksum = zlib.crc32(block, checksum)
            sums[relative] = checksum
    return sums


def _replace_text(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _remove_old_snapshots(root: Path, *, keep: str) -> None:
    # Readers that loaded an older snapshot hold it in memory, so it can go, and so can
    # what an ingest killed half-way left behind.
    for path in root.iterdir():
        if path.name == keep:
            continue
        if path.is_dir() and path.name.startswith(("gen-", ".staging-")):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.startswith(".tmp-"):
            path.unlink(missing_ok=True)
