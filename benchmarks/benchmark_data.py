"""The public benchmark sets, read from ../shared/benchmarks, and the pool built from them.

The pool is every paragraph of XQuAD-en, XQuAD-ar, ARCD and PIAF in one collection,
as a bot holding mixed-language news would; a question's gold is the paragraph it
was written on. Paragraphs are written out as article files, so newsbot indexes
them through its ordinary ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rag.engine import Engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = PROJECT_ROOT.parent / "shared" / "benchmarks"

SETS = {
    "XQuAD-en": "xquad/xquad.en.json",
    "XQuAD-ar": "xquad/xquad.ar.json",
    "ARCD": "arcd/arcd.json",
    "PIAF": "piaf/piaf-v1.0.json",
}
ARCD_TRAIN = "arcd/arcd-train.json"
SAUDINEWSNET = "saudinewsnet"
PIAF_REPORTED_QUESTIONS = 1500


@dataclass(frozen=True)
class Paragraph:
    source: str  # the article file name newsbot cites, e.g. "ARCD-0042.txt"
    text: str
    dataset: str
    article: int  # position of its Wikipedia article in the dataset file


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: str  # source of the paragraph the question was written on
    dataset: str


@dataclass
class Benchmark:
    root: Path
    paragraphs: list[Paragraph]
    questions: dict[str, list[Question]]  # by dataset, in file order


def benchmarks_dir(root: Path = BENCHMARKS_DIR) -> Path:
    """The benchmark folder, or exit with a message saying what is missing."""
    where = "read from ../shared/benchmarks beside the project checkout, or --data DIR"
    if not root.is_dir():
        sys.exit(f"benchmarks: no benchmark folder at {root} (the public sets are {where})")
    missing = [name for name in [*SETS.values(), ARCD_TRAIN] if not (root / name).is_file()]
    if missing:
        sys.exit(f"benchmarks: {root} lacks {', '.join(missing)} (the public sets are {where})")
    return root


def load_benchmark(root: Path = BENCHMARKS_DIR) -> Benchmark:
    root = benchmarks_dir(root)
    paragraphs: list[Paragraph] = []
    questions: dict[str, list[Question]] = {}
    for dataset, relative in SETS.items():
        data = json.loads((root / relative).read_text(encoding="utf-8"))
        questions[dataset] = []
        number = 0
        for article, entry in enumerate(data["data"]):
            for paragraph in entry["paragraphs"]:
                source = f"{dataset}-{number:04d}.txt"
                number += 1
                paragraphs.append(Paragraph(source, paragraph["context"], dataset, article))
                for qa in paragraph["qas"]:
                    questions[dataset].append(
                        Question(str(qa["id"]), qa["question"].strip(), source, dataset)
                    )
    return Benchmark(root, paragraphs, questions)


def arcd_train_ids(root: Path) -> set[str]:
    data = json.loads((root / ARCD_TRAIN).read_text(encoding="utf-8"))
    return {
        str(qa["id"])
        for entry in data["data"]
        for paragraph in entry["paragraphs"]
        for qa in paragraph["qas"]
    }


def tuning_split(
    benchmark: Benchmark,
) -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """The questions tuned on (ARCD train, first half of PIAF) and the held-out rest of both."""
    train = arcd_train_ids(benchmark.root)
    arcd = benchmark.questions["ARCD"]
    piaf = benchmark.questions["PIAF"]
    half = len(piaf) // 2
    tuning = {
        "ARCD-train": [q for q in arcd if q.id in train],
        "PIAF-first-half": piaf[:half],
    }
    held_out = {
        "ARCD-test": [q for q in arcd if q.id not in train],
        "PIAF-second-half": piaf[half:],
    }
    return tuning, held_out


def reported_sets(benchmark: Benchmark) -> dict[str, list[Question]]:
    """The sets of the issue's table: all of XQuAD and ARCD, the first 1,500 PIAF questions."""
    sets = dict(benchmark.questions)
    sets["PIAF"] = sets["PIAF"][:PIAF_REPORTED_QUESTIONS]
    return sets


@dataclass(frozen=True)
class NewsArticle:
    source: str
    text: str  # title line, blank line, content


def saudinewsnet_articles(root: Path, limit: int | None = None) -> Iterator[NewsArticle]:
    """Non-empty SaudiNewsNet articles in file order (CC BY-NC-SA 4.0, research use only)."""
    folder = root / SAUDINEWSNET
    files = sorted(folder.glob("*.json"))
    if not files:
        sys.exit(f"benchmarks: no SaudiNewsNet JSON files in {folder}")
    count = 0
    for file in files:
        for position, entry in enumerate(json.loads(file.read_text(encoding="utf-8"))):
            content = (entry.get("content") or "").strip()
            if not content:
                continue
            if limit is not None and count >= limit:
                return
            title = (entry.get("title") or "").strip()
            yield NewsArticle(f"snn-{file.stem}-{position:04d}.txt", f"{title}\n\n{content}\n")
            count += 1


def write_articles(folder: Path, articles: Iterator[tuple[str, str]]) -> int:
    """Write (file name, text) pairs as UTF-8 article files; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, text in articles:
        (folder / name).write_text(text, encoding="utf-8")
        count += 1
    return count


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=BENCHMARKS_DIR,
        metavar="DIR",
        help=f"folder of the public benchmark sets (default: {BENCHMARKS_DIR})",
    )


def add_distractors_option(parser: argparse.ArgumentParser) -> None:
    def count(text: str) -> int:
        value = int(text)
        if value < 0:
            raise argparse.ArgumentTypeError("must be 0 or more")
        return value

    parser.add_argument(
        "--distractors",
        type=count,
        default=0,
        metavar="N",
        help="add the first N non-empty SaudiNewsNet articles (Arabic news) to the pool",
    )


WORK_DIR = PROJECT_ROOT / "benchmarks" / ".work"


class CachedEmbedding:
    """The engine's embedding with every vector kept in benchmarks/.work/embeddings.sqlite,
    by text: the pool and the pool with distractors share their paragraphs' vectors, and
    a question is embedded once across runs. Only for benchmarks of quality: timings of
    ingest and of questions are measured without it (benchmarks/ingest_speed.py,
    cli_latency.py)."""

    def __init__(self, inner: Any, path: Path = WORK_DIR / "embeddings.sqlite") -> None:
        self.inner = inner
        self.model_name = inner.model_name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vector BLOB)")
        self._prefix = f"{inner.class_name()}:{inner.model_name}:"

    def class_name(self) -> str:
        return str(self.inner.class_name())

    @property
    def by_meaning(self) -> bool:
        return bool(self.inner.by_meaning)

    def _key(self, kind: str, text: str) -> str:
        return self._prefix + kind + hashlib.sha256(text.encode()).hexdigest()

    def _lookup(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(
                f"SELECT key, vector FROM v WHERE key IN ({marks})", part
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _store(self, pairs: Sequence[tuple[str, np.ndarray]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO v VALUES (?, ?)",
            [(key, np.asarray(vector, np.float32).tobytes()) for key, vector in pairs],
        )
        self._db.commit()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key("p:", text) for text in texts]
        found = self._lookup(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            computed = self.inner.vectors([texts[i] for i in missing])
            self._store([(keys[i], computed[j]) for j, i in enumerate(missing)])
            found.update({keys[i]: computed[j] for j, i in enumerate(missing)})
        return np.stack([found[key] for key in keys]) if keys else np.zeros((0, 384), np.float32)

    def get_query_embedding(self, text: str) -> list[float]:
        key = self._key("q:", text)
        found = self._lookup([key])
        if key not in found:
            vector = np.asarray(self.inner.get_query_embedding(text), np.float32)
            self._store([(key, vector)])
            return list(vector.tolist())
        return list(found[key].tolist())

    def remember_stored(self, engine: Engine) -> None:
        """Put the vectors an index already holds into the cache: its passages' and their
        sentences' (the texts `Engine.ingest` embeds)."""
        from rag.store.index import NewsIndex
        from rag.store.vectors import record_from_chroma

        vectors = engine.index.vector
        collection = getattr(vectors, "_collection", None)
        if collection is None:
            return
        offset = 0
        while True:
            page = collection.get(
                include=["documents", "embeddings", "metadatas"], limit=2000, offset=offset
            )
            if not page["ids"]:
                return
            keys = [self._key("p:", text) for text in page["documents"]]
            self._store(list(zip(keys, page["embeddings"], strict=True)))
            records = [
                record_from_chroma(passage_id, text, metadata)
                for passage_id, text, metadata in zip(
                    page["ids"], page["documents"], page["metadatas"], strict=True
                )
            ]
            stored = vectors.sentence_vectors(page["ids"])
            pairs = []
            for record in records:
                for span in NewsIndex._sentences(record):
                    vector = stored.get((record.passage_id, span.start))
                    if vector is not None:
                        pairs.append((self._key("p:", span.text), vector))
            self._store(pairs)
            offset += len(page["ids"])


def remember_index(data_dir: Path) -> int:
    """Put the vectors of the index in `data_dir` (built with the default settings, for
    instance by `benchmarks/scale.py --keep`) into the cache, so that a benchmark over the
    same articles embeds them no more. Returns how many passages it holds."""
    from rag.engine import Engine
    from rag.settings import load_settings

    engine = Engine(load_settings(data_dir=data_dir))
    if engine.index.embedding is None:
        sys.exit(f"benchmarks: {data_dir} has no embedding model to read vectors of")
    CachedEmbedding(engine.index.embedding).remember_stored(engine)
    return len(engine.index.snapshot())


def work_engine(
    name: str, documents: Sequence[tuple[str, str]], *, cached: bool = True, **settings: object
) -> Engine:
    """An engine over `documents` (file name, text), indexed by `Engine.ingest` in
    benchmarks/.work/NAME and kept there: a rerun over the same documents and embedding
    finds them indexed and embeds nothing. `cached`: embeddings go through
    `CachedEmbedding`. `settings` override the defaults."""
    from rag.engine import Engine
    from rag.settings import load_settings

    root = WORK_DIR / name
    corpus = root / "articles"
    wanted = {source for source, _ in documents}
    if corpus.is_dir():
        for stale in [path for path in corpus.iterdir() if path.name not in wanted]:
            stale.unlink()
    for source, text in documents:
        path = corpus / source
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            corpus.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    config = load_settings(corpus_dir=corpus, data_dir=root, **settings)
    engine = Engine(
        config.model_copy(update={"data_dir": root / f"data-{config.embedding_provider}"})
    )
    cache = None
    if cached and engine.index.embedding is not None:
        cache = CachedEmbedding(engine.index.embedding)
        engine.index.embedding = cache  # type: ignore[assignment]
    started = time.perf_counter()
    report = engine.ingest()
    print(f"{name}: {report.summary()} ({time.perf_counter() - started:.0f} s)", flush=True)
    if cache is not None and not report.added and not report.updated:
        cache.remember_stored(engine)
    return engine


def translation_of(source: str) -> str | None:
    """The same paragraph in XQuAD's other language: XQuAD-en and XQuAD-ar are
    translations of each other, paragraph by paragraph, numbered alike. None for the
    other sets."""
    for one, other in (("XQuAD-en-", "XQuAD-ar-"), ("XQuAD-ar-", "XQuAD-en-")):
        if source.startswith(one):
            return other + source.removeprefix(one)
    return None


def xquad_halves(
    benchmark: Benchmark,
) -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """XQuAD's questions on the first half of its articles (tuned on) and on the rest."""
    article_of = {p.source: p.article for p in benchmark.paragraphs}
    articles = max(article_of[q.gold] for q in benchmark.questions["XQuAD-en"]) + 1
    tune: dict[str, list[Question]] = {}
    report: dict[str, list[Question]] = {}
    for name in ("XQuAD-en", "XQuAD-ar"):
        questions = benchmark.questions[name]
        tune[f"{name}-first-half"] = [q for q in questions if article_of[q.gold] < articles // 2]
        report[f"{name}-second-half"] = [
            q for q in questions if article_of[q.gold] >= articles // 2
        ]
    return tune, report
