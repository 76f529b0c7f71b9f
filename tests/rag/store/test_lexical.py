from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from rag.store.lexical import POINTER, LexicalIndex, PassageRecord, with_source_labels


def record(i: int, terms: str, text: str | None = None, words: str = "") -> PassageRecord:
    return PassageRecord(
        passage_id=f"p{i}",
        article_id=f"a{i}",
        source=f"{i}.txt",
        path=f"/x/{i}.txt",
        doc_hash="h",
        title=f"T{i}",
        language="en",
        start=0,
        end=len(text or terms),
        text=text or terms,
        terms=terms,
        words=words or terms,
    )


CORPUS = [
    "microsoft buy tiktok unit state",
    "amazon ban tiktok employe phone",
    "well fargo ban tiktok employe",
    "microsoft data store unit state unit state",
    "bytedanc split tiktok us version",
]


def reference_bm25(
    docs: list[list[str]], query: list[str], k1: float = 1.5, b: float = 0.75
) -> list[float]:
    """Lucene's BM25 (no (k1 + 1) factor in the numerator), written out plainly."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    scores = []
    for doc in docs:
        score = 0.0
        for term in set(query):
            df = sum(1 for d in docs if term in d)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            score += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        scores.append(score)
    return scores


@pytest.mark.parametrize(
    "query", [["tiktok"], ["ban", "employe"], ["unit", "state", "data"], ["nothing"]]
)
def test_scores_match_the_reference(query: list[str]) -> None:
    index = LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e")
    expected = reference_bm25([t.split() for t in CORPUS], query)
    found = dict(index.search(query, k=10))
    for row, score in enumerate(expected):
        if score > 0:
            assert found[row] == pytest.approx(score, rel=1e-4)
        else:
            assert row not in found
    ranked = [row for row, _ in index.search(query, k=10)]
    assert ranked == sorted(ranked, key=lambda r: -expected[r])


def test_coverage_is_the_weight_of_the_query_terms_present() -> None:
    index = LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e")
    coverage = index.coverage({"tiktok": 2.0, "ban": 1.0, "unknown": 5.0})
    assert coverage.tolist() == [2.0, 3.0, 3.0, 0.0, 2.0]


def test_term_scores_cover_every_passage() -> None:
    index = LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e")
    scores = index.term_scores(["data", "data", "nothing"])
    expected = reference_bm25([t.split() for t in CORPUS], ["data"])
    assert scores.tolist() == pytest.approx(expected, rel=1e-4)


def test_subword_index_is_built_from_the_words() -> None:
    records = [record(0, "achat", words="achats"), record(1, "vente", words="ventes")]
    index = LexicalIndex.build(records, embedding="e")
    scores = index.subword_scores("achat")
    assert scores[0] > 0 and scores[1] == 0


def test_save_load_round_trip(tmp_path: Path) -> None:
    index = LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e")
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None
    assert loaded.records == index.records
    assert loaded.generation == index.generation
    assert loaded.search(["ban"], 5) == index.search(["ban"], 5)
    assert loaded.subword_scores("tiktok").tolist() == index.subword_scores("tiktok").tolist()


def test_save_publishes_atomically_and_removes_old_snapshots(tmp_path: Path) -> None:
    LexicalIndex.build([record(0, "a b")], embedding="e").save(tmp_path)
    first = (tmp_path / POINTER).read_text()
    LexicalIndex.build([record(1, "c d")], embedding="e").save(tmp_path)
    second = (tmp_path / POINTER).read_text()
    assert first != second
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [second]


def test_nothing_indexed(tmp_path: Path) -> None:
    assert LexicalIndex.load(tmp_path) is None
    empty = LexicalIndex.build([], embedding="e")
    assert empty.search(["x"], 3) == []
    empty.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None and len(loaded) == 0


def test_corrupted_snapshot_raises(tmp_path: Path) -> None:
    LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e").save(tmp_path)
    current = tmp_path / (tmp_path / POINTER).read_text()
    (current / "passages.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError):
        LexicalIndex.load(tmp_path)


def test_idf_is_highest_for_unseen_terms() -> None:
    index = LexicalIndex.build([record(i, t) for i, t in enumerate(CORPUS)], embedding="e")
    assert index.idf("zzz") > index.idf("bytedanc") > index.idf("tiktok")
    assert index.document_frequency("tiktok") == 4


def test_snapshot_of_another_version_says_so(tmp_path: Path) -> None:
    LexicalIndex.build([record(0, "a b")], embedding="e").save(tmp_path)
    meta = tmp_path / (tmp_path / POINTER).read_text() / "meta.json"
    meta.write_text(meta.read_text().replace('"format": 2', '"format": 1'))
    with pytest.raises(ValueError, match="another version of newsbot"):
        LexicalIndex.load(tmp_path)


def found(path: str, root: str, name: str, source: str | None = None) -> PassageRecord:
    """A passage of the article at `path`, found under `root` as `name`."""
    return PassageRecord(
        passage_id=path,
        article_id=path,
        source=source or name,
        path=path,
        doc_hash="h",
        title="T",
        language="en",
        start=0,
        end=1,
        text="x",
        terms="x",
        root=root,
        name=name,
    )


class TestSourceLabels:
    def test_names_alone_when_no_two_articles_share_one(self) -> None:
        records = [
            found("/a/x/story.txt", "/a/x/", "story.txt"),
            found("/a/x/world/story.txt", "/a/x/", "world/story.txt"),
            found("/b/note.md", "/b/note.md", "note.md"),
        ]
        assert with_source_labels(records) == records

    def test_same_names_from_separate_ingests_get_the_shortest_end_that_differs(self) -> None:
        labels = [
            r.source
            for r in with_source_labels(
                [
                    found("/a/x/story.txt", "/a/x/", "story.txt"),
                    found("/a/y/story.txt", "/a/y/", "story.txt"),
                    found("/b/news/day.txt", "/b/news/", "day.txt"),
                    found("/c/news/day.txt", "/c/news/", "day.txt"),
                    found("/e/news/day.txt", "/e/", "news/day.txt", source="stale"),
                    found("/d/day.txt", "/d/day.txt", "day.txt"),
                    found("/day.txt", "/", "day.txt"),
                ]
            )
        ]
        assert labels == [
            "x/story.txt",
            "y/story.txt",
            # `news/day.txt` is also the name of an article of /e/: the folder above tells
            # the three apart.
            "b/news/day.txt",
            "c/news/day.txt",
            "e/news/day.txt",
            "d/day.txt",
            "/day.txt",
        ]
        assert len(set(labels)) == len(labels)

    def test_every_passage_of_an_article_gets_its_label(self) -> None:
        first = found("/a/x/story.txt", "/a/x/", "story.txt")
        second = dataclasses.replace(first, passage_id="second")
        other = found("/a/y/story.txt", "/a/y/", "story.txt")
        assert [r.source for r in with_source_labels([first, second, other])] == [
            "x/story.txt",
            "x/story.txt",
            "y/story.txt",
        ]

    def test_an_index_from_before_roots_keeps_its_names(self) -> None:
        old = [record(1, "a"), dataclasses.replace(record(2, "b"), source="1.txt")]
        assert [r.source for r in with_source_labels(old)] == ["1.txt", "1.txt"]

    def test_a_snapshot_shows_the_labels_and_keeps_the_names(self, tmp_path: Path) -> None:
        records = [
            found("/a/x/story.txt", "/a/x/", "story.txt"),
            found("/a/y/story.txt", "/a/y/", "story.txt"),
        ]
        LexicalIndex.build(records, embedding="e").save(tmp_path)
        loaded = LexicalIndex.load(tmp_path)
        assert loaded is not None
        assert [(r.source, r.name) for r in loaded.records] == [
            ("x/story.txt", "story.txt"),
            ("y/story.txt", "story.txt"),
        ]
        alone = LexicalIndex.build(loaded.records[:1], embedding="e")
        assert alone.records[0].source == "story.txt"
