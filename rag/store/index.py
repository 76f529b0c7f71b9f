"""The two indexes over one set of passages, kept in step.

The lexical snapshot is the catalogue: it names every passage that is indexed.
An ingest adds new vectors to Chroma first, then publishes the new snapshot, then
deletes vectors that no snapshot names any more. Readers only use vector hits that
their snapshot names, so at every moment both sides describe the same passages,
and an ingest that dies half-way leaves the previous index whole; the next ingest
reconciles Chroma with the catalogue.

Where the snapshot is published depends on where Chroma is (rag/store/catalogue.py): in the
data dir for the embedded store, on the server in server mode. Every question first
checks the catalogue's token, so a process answers from the newest published snapshot.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import (
    BackendError,
    BadInputError,
    ConfigError,
    IndexUnavailableError,
    NewsbotError,
)
from rag.models import ArticleInfo, Embedding, IngestReport, ProgressCallback
from rag.safe_text import escaped_name
from rag.store.batch_embedding import BatchEmbedding, ReleasesMemory, matches_meaning
from rag.store.catalogue import Catalogue, CatalogueChanged, ChromaCatalogue, LocalCatalogue
from rag.store.ingest import plan_ingest, root_path, unusable_path
from rag.store.lexical import LexicalIndex, PassageRecord, generation_of
from rag.store.locks import (
    INGEST_LOCK_FILE,
    ChromaLease,
    ingest_lock,
    vectors_read_lock,
    vectors_write_lock,
)
from rag.store.vectors import (
    MODEL_EMBED_BATCH,
    NoVectors,
    SentenceSpan,
    VectorIndex,
    VectorStoreUnusable,
    forget_clients,
    location_of,
    open_index,
)
from rag.text.sentence_units import answer_units

if TYPE_CHECKING:
    from rag.settings import StorageConfig

LOCK_FILE = INGEST_LOCK_FILE
LOAD_ATTEMPTS = 3
# An ingest that embedded this many passages frees the embedding's passage engine before
# building the lexical snapshot: some 400 MB at the peak of an 11,263-article ingest
# (benchmarks/scale.py), for a few seconds to build it again at the next ingest of a
# long-running process (the REPL's /ingest).
RELEASE_AFTER_PASSAGES = 1000
# What reading a published snapshot raises when it was replaced meanwhile, or is broken.
_UNREADABLE = (CatalogueChanged, OSError, ValueError, KeyError, TypeError, EOFError)

log = logging.getLogger(__name__)


class NewsIndex:
    """Chroma (embedded or on a server) and the lexical snapshot, kept in step."""

    def __init__(
        self, storage: StorageConfig, embedding: Embedding | None, embedding_name: str
    ) -> None:
        """`embedding` None: the configured model cannot be loaded here. Questions are then
        answered from the lexical indexes, and an ingest stores passages without vectors;
        the next ingest with the model embeds them."""
        self.storage = storage
        self.embedding = embedding
        self.embedding_name = embedding_name
        self.data_dir = storage.data_dir
        self.where = location_of(storage.chroma)
        self._vector: VectorIndex | None = None
        self._catalogue: ChromaCatalogue | None = None
        # Embedded store: set when another process published, so our Chroma view is stale.
        self._vector_stale = False
        self._snapshot: LexicalIndex | None = None
        self._snapshot_token: str | None = None
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        # (vector view, snapshot) the last vector gap was counted for, and what it was.
        self._gap_checked: tuple[int, str | None] | None = None
        self._gap: str | None = None

    # -- connections -------------------------------------------------------------

    def _open_vectors(self) -> VectorIndex:
        return open_index(self.storage.chroma, self.storage.collection)

    def _server(self) -> tuple[VectorIndex, ChromaCatalogue]:
        """Server mode: the connection, opened again if the last call on it failed."""
        with self._lock:
            if self._vector is None or self._vector.failed or self._catalogue is None:
                vectors = self._open_vectors()
                self._vector = vectors
                self._catalogue = ChromaCatalogue(
                    vectors.client,
                    vectors,
                    self.storage.collection,
                    self.storage.lexical_cache_dir,
                )
            return self._vector, self._catalogue

    def catalogue(self) -> Catalogue:
        if self.where.server:
            return self._server()[1]
        return LocalCatalogue(self.storage.lexical_dir)

    @property
    def vector(self) -> VectorIndex | NoVectors:
        """The vector index to query.

        Embedded store: opened (again) only while no ingest writes it; until then, the
        view opened before, or no vector hits at all if there is none.
        """
        if self.where.server:
            return self._server()[0]
        with self._lock:
            if self._vector is None or self._vector.failed or self._vector_stale:
                if not self.data_dir.is_dir():
                    return NoVectors()
                with vectors_read_lock(self.data_dir) as free:
                    if free:
                        vectors = self._open_vectors()
                        vectors.warm_up()
                        self._vector, self._vector_stale = vectors, False
                    elif self._vector is None or self._vector.failed:
                        log.info("an ingest is writing the vector store: lexical ranking only")
                        return NoVectors(busy=True)
            return self._vector

    def vector_gap(self) -> str | None:
        """What is wrong, if the vector store lacks vectors for the indexed passages: a store
        deleted, emptied or left behind by an ingest without the model, or one an ingest is
        writing (lexical ranking only for that while). Counted once per store view and
        snapshot."""
        snapshot = self.snapshot()
        vectors = self.vector
        if isinstance(vectors, NoVectors) and vectors.busy and len(snapshot):
            return (
                f"an ingest is writing {self.where.description}, so questions are matched by "
                "their words only until it has finished"
            )
        if not isinstance(vectors, VectorIndex) or not len(snapshot):
            return None
        key = (id(vectors), self._snapshot_token)
        if key == self._gap_checked:
            return self._gap
        stored = vectors.count()
        gap = None
        if stored == 0:
            gap = (
                f"{self.where.description} holds no vectors for the {len(snapshot):,} indexed "
                "passages (deleted or emptied?), so questions are matched by their words only; "
                "run `newsbot ingest --rebuild`"
            )
        elif stored < len(snapshot):
            gap = (
                f"{self.where.description} holds vectors for {stored:,} of the "
                f"{len(snapshot):,} indexed passages; the others are matched by their words "
                "only; run `newsbot ingest` to embed them"
            )
        self._gap_checked, self._gap = key, gap
        return gap

    # -- reading -----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether anything was ever indexed here.

        Nothing is indexed only when no index file is left: a lexical index gone while
        the Chroma store holds vectors it was published with is damage, and indexing the
        corpus dir then would delete the user's vectors. Vectors never published with a
        lexical index are a first ingest that was interrupted; the next one resumes it.
        """
        if self.catalogue().current() is not None:
            return True
        store = self.storage.chroma.path / "chroma.sqlite3"
        if not self.where.server and store.is_file() and store.stat().st_size > 0:
            vectors = self.vector
            stored = vectors.count() if isinstance(vectors, VectorIndex) else 0
            if stored and isinstance(vectors, VectorIndex) and vectors.published():
                raise IndexUnavailableError(
                    f"the lexical index in {self.storage.lexical_dir} is missing, but the "
                    f"Chroma store holds {stored:,} passages; run `newsbot ingest --rebuild`"
                )
        return False

    def snapshot(self) -> LexicalIndex:
        """The newest published snapshot; reloaded when an ingest published a new one."""
        catalogue = self.catalogue()
        token = catalogue.current()
        with self._lock:
            if token is not None and token == self._snapshot_token:
                assert self._snapshot is not None
                return self._snapshot
        with self._loading:  # one thread loads; the others wait for it, then use its result
            return self._load(catalogue, token)

    def _load(self, catalogue: Catalogue, token: str | None) -> LexicalIndex:
        with self._lock:
            if token is not None and token == self._snapshot_token:
                assert self._snapshot is not None
                return self._snapshot
        for _ in range(LOAD_ATTEMPTS):
            if token is None:
                snapshot = LexicalIndex([], None, generation="empty", embedding=self.embedding_name)
                break
            try:
                snapshot = catalogue.load(token, self._snapshot)
                break
            except NewsbotError:
                raise
            except _UNREADABLE as exc:
                newer = catalogue.current()
                if newer == token:  # not replaced while we read it: broken
                    raise IndexUnavailableError(
                        f"the index in {self._catalogue_place()} is unreadable "
                        f"({type(exc).__name__}: {exc}); run `newsbot ingest --rebuild`"
                    ) from exc
                token = newer  # an ingest published again while we read: take the newer one
        else:
            raise IndexUnavailableError(
                f"the index in {self._catalogue_place()} kept changing while it was read; try again"
            )
        if snapshot.embedding != self.embedding_name and len(snapshot):
            raise IndexUnavailableError(
                f"the index in {self._catalogue_place()} was built with the embedding "
                f"{snapshot.embedding!r}, not the configured {self.embedding_name!r}; "
                "run `newsbot ingest --rebuild` to re-embed the articles"
            )
        with self._lock:
            if token != self._snapshot_token:
                self._snapshot, self._snapshot_token = snapshot, token
                self._vector_stale = self._vector is not None
            return snapshot

    def _catalogue_place(self) -> str:
        return self.where.description if self.where.server else str(self.data_dir)

    def articles(self) -> list[ArticleInfo]:
        by_path: dict[str, ArticleInfo] = {}
        for record in self.snapshot().records:
            info = by_path.get(record.path)
            if info is None:
                by_path[record.path] = ArticleInfo(
                    source=record.source,
                    title=record.title,
                    language=record.language,
                    passages=1,
                    path=record.path,
                )
            else:
                info.passages += 1
        return sorted(by_path.values(), key=lambda a: (a.source, a.path))

    # -- writing -----------------------------------------------------------------

    def _ensure_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / f".write-test-{os.getpid()}-{threading.get_ident()}"
            try:
                probe.write_bytes(b"-")  # a byte, for a full disk refuses only data
            finally:
                probe.unlink(missing_ok=True)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise IndexUnavailableError(
                    f"the disk holding the data directory {self.data_dir} is full "
                    f"({exc.strerror}); nothing was changed; free some space, then run the "
                    "ingest again"
                ) from exc
            raise IndexUnavailableError(
                f"cannot write to the data directory {self.data_dir} ({exc.strerror or exc}); "
                "set NEWSBOT_DATA_DIR to a writable folder"
            ) from exc

    @contextlib.contextmanager
    def _writing(
        self, *, rebuild: bool, notices: list[str]
    ) -> Iterator[tuple[VectorIndex, Catalogue, ChromaLease | None]]:
        """Hold every lock an ingest needs; yield the vectors and catalogue to write.

        A rebuild sets an embedded store that cannot be read aside, and says so in
        `notices`; a full disk or a read-only store stops it.
        """
        self._ensure_data_dir()
        with ingest_lock(self.data_dir):
            if self.where.server:
                vectors, catalogue = self._server()
                lease = ChromaLease(vectors.client, self.storage.collection, self.where.description)
                with vectors.calling():
                    lease.acquire()
                try:
                    yield vectors, catalogue, lease
                finally:
                    lease.release()
                return
            with vectors_write_lock(self.data_dir):
                # A view of our own: the one readers hold may predate another ingest.
                try:
                    vectors = self._open_vectors()
                except IndexUnavailableError as exc:
                    cause = exc.cause if isinstance(exc, VectorStoreUnusable) else None
                    if not rebuild or cause in ("full", "read-only"):
                        raise
                    why = exc.words if isinstance(exc, VectorStoreUnusable) else str(exc)
                    aside = self._set_aside_vector_store()
                    notices.append(
                        f"{self.where.description} could not be read ({why}); it was moved "
                        f"to {aside} (remove it once the rebuilt index answers well) and a new "
                        "one was built"
                    )
                    vectors = self._open_vectors()
                yield vectors, LocalCatalogue(self.storage.lexical_dir), None

    def ingest(
        self,
        paths: Sequence[Path] | None,
        *,
        rebuild: bool = False,
        forget_missing: bool = False,
        corpus_dir: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Bring the index in line with the articles under `paths`; without paths, under
        the paths it was built from (`corpus_dir` when nothing is indexed yet).

        A remembered path that is gone stops a rebuild, which would drop its articles,
        unless `forget_missing`; an ingest keeps them, and says so. With `forget_missing`,
        their articles are dropped.

        Progress stages: "read" (files), "embed" (new passages stored), then "delete"
        (stale vectors; reported once with 0 done right after the new snapshot is
        published).
        """
        started = time.perf_counter()
        notices: list[str] = []
        if paths:
            _check_paths(paths)
            forgotten: set[str] = set()
        else:
            remembered, forgotten = self._remembered_paths(
                rebuild=rebuild, forget_missing=forget_missing, notices=notices
            )
            if remembered is None:
                if corpus_dir is None:
                    raise BadInputError("nothing is indexed yet; name the paths to index")
                if not (corpus_dir.is_dir() or corpus_dir.is_file()):
                    raise ConfigError(
                        f"NEWSBOT_CORPUS_DIR is {escaped_name(str(corpus_dir))}: "
                        f"{unusable_path(corpus_dir)}; set it to your articles' folder, or "
                        "index one: `newsbot ingest PATH`"
                    )
                remembered = [corpus_dir]
            paths = remembered
        with self._writing(rebuild=rebuild, notices=notices) as (vectors, catalogue, lease):
            indexed: list[PassageRecord] = [] if rebuild else self.snapshot().records
            dropped = {record.path for record in indexed if record.root in forgotten}
            indexed = [record for record in indexed if record.path not in dropped]
            plan = plan_ingest(
                paths,
                indexed,
                chunk_size=self.storage.chunk_size,
                chunk_overlap=self.storage.chunk_overlap,
                outside_links=self.storage.outside_links,
                progress=(lambda done, total: progress("read", done, total)) if progress else None,
            )
            if rebuild and vectors.embedding_model() not in (None, self.embedding_name):
                vectors.reset()  # other dimensions, other space: start the collection anew
            present = vectors.ids()
            wanted = {record.passage_id for record in plan.records}
            # A rebuild stores every passage again, replacing vectors in place.
            to_add = (
                plan.records
                if rebuild
                else [record for record in plan.records if record.passage_id not in present]
            )
            done = 0

            def advance(count: int) -> None:
                nonlocal done
                done += count
                if progress:
                    progress("embed", done, len(to_add))

            if self.embedding is None:
                if self.where.server:
                    raise IndexUnavailableError(
                        "the embedding model cannot be loaded, and a Chroma server needs "
                        "every passage's vector; nothing was changed"
                    )
                log.info("no embedding model: %d passages stored without vectors", len(to_add))
                to_add = []
            vectors.set_embedding_model(self.embedding_name)
            sentences = self._sentences if self.keeps_sentences() else None
            backfill: list[PassageRecord] = []
            replaced_without_sentences = False
            if sentences is not None and not vectors.sentences_complete():
                # Stored before this version kept sentence vectors, or with another cut.
                adding = {record.passage_id for record in to_add}
                backfill = [r for r in plan.records if r.passage_id not in adding]
                replaced_without_sentences = bool(adding & present)
                vectors.drop_sentences()
                vectors.add(
                    backfill,
                    self._embed,
                    None,
                    embed_batch=self._embed_batch(),
                    sentences=sentences,
                    passages=False,
                )
            if sentences is not None and not replaced_without_sentences:
                # `add` stores a passage's sentences before the passage, so from here on
                # an ingest stopped part-way leaves every stored passage with its sentences,
                # and the next one need not drop and embed them again. (A rebuild that had
                # to drop them replaces stored passages, which have none until replaced.)
                vectors.mark_sentences_complete()
            vectors.add(
                to_add,
                self._embed,
                advance,
                embed_batch=self._embed_batch(),
                sentences=sentences,
            )
            if len(to_add) + len(backfill) >= RELEASE_AFTER_PASSAGES and isinstance(
                self.embedding, ReleasesMemory
            ):
                # Before the lexical snapshot is built, the other peak of a large ingest.
                self.embedding.release_memory()
            if not rebuild:
                # Passages kept as they were but under a new name or root: their vectors
                # stand, their catalogue fields in the store (read by other machines) follow.
                before = {record.passage_id: record.doc_hash for record in indexed}
                renamed = [
                    record
                    for record in plan.records
                    if record.passage_id in present
                    and before.get(record.passage_id, record.doc_hash) != record.doc_hash
                ]
                if renamed:
                    vectors.update_metadata(renamed)
                    language_before = {record.passage_id: record.language for record in indexed}
                    relabelled = [
                        r for r in renamed if language_before.get(r.passage_id) != r.language
                    ]
                    if relabelled and sentences is not None:
                        vectors.update_sentence_metadata(relabelled, sentences)
            current = None if rebuild else self.snapshot()
            unchanged = (
                current is not None
                and not to_add
                and current.embedding == self.embedding_name
                and current.generation == generation_of(r.passage_id for r in plan.records)
                and [r.doc_hash for r in plan.records] == [r.doc_hash for r in current.records]
            )
            if not unchanged:
                # Published snapshots are immutable: an ingest that changes nothing keeps
                # the current one rather than building and publishing the same index again.
                self._publish(plan.records, vectors, catalogue, lease)
            vectors.mark_published()
            vectors.ensure_search_beam()
            if sentences is not None and replaced_without_sentences:
                vectors.mark_sentences_complete()
            stale = sorted(present - wanted)
            if progress:
                progress("delete", 0, len(stale))
            try:
                vectors.delete(stale)
            except NewsbotError as exc:
                # Published and consistent: readers ignore vectors their snapshot does not name.
                log.warning(
                    "could not remove %d old vectors (%s); the next ingest will", len(stale), exc
                )
        return IngestReport(
            articles=plan.articles,
            passages=len(plan.records),
            added=plan.added,
            updated=plan.updated,
            removed=plan.removed + len(dropped),
            unchanged=plan.unchanged,
            skipped=plan.skipped,
            notices=notices,
            seconds=time.perf_counter() - started,
        )

    def _remembered_paths(
        self, *, rebuild: bool, forget_missing: bool, notices: list[str]
    ) -> tuple[list[Path] | None, set[str]]:
        """The paths the index was built from that are still there (None when nothing is
        indexed), and the roots of those that are gone and are to be forgotten."""
        found = self._where_articles_were_found()
        if not found:
            return None, set()
        if any(not root for root, _ in found.values()):
            raise IndexUnavailableError(
                "the index was built by a version of newsbot that did not record the paths it "
                "read; name them once, e.g. "
                f"`newsbot ingest{' --rebuild' if rebuild else ''} {_guessed_paths(found)}`"
            )
        articles = collections.Counter(root for root, _ in found.values())
        gone = sorted(root for root in articles if not os.path.lexists(root_path(root)))
        there = [root_path(root) for root in sorted(articles) if root not in gone]
        if not gone:
            return there, set()
        named = ", ".join(escaped_name(str(root_path(root))) for root in gone)
        is_gone = "is gone" if len(gone) == 1 else "are gone"
        held = sum(articles[root] for root in gone)
        if forget_missing:
            if not there:
                raise BadInputError(
                    f"every path the index was built from is gone ({named}); nothing was "
                    "changed; name the paths to index: `newsbot ingest --rebuild PATH…`"
                )
            notices.append(f"{named} {is_gone}: its {held:,} articles were dropped from the index")
            return there, set(gone)
        if rebuild:
            raise BadInputError(
                f"{named} {is_gone}, and the index holds {held:,} articles from there; a "
                "rebuild would drop them, so nothing was changed. Put it back, or to rebuild "
                "without them run `newsbot ingest --rebuild --forget-missing`"
            )
        notices.append(
            f"{named} {is_gone}: its {held:,} indexed articles are kept; "
            "`newsbot ingest --forget-missing` drops them"
        )
        return there, set()

    def _where_articles_were_found(self) -> dict[str, tuple[str, str]]:
        """The root and name (see PassageRecord) of every indexed article, by its path, read
        however the index still can be: its snapshot (even one built with another
        embedding), else the records stored with the vectors. Empty: nothing is indexed."""
        try:
            catalogue = self.catalogue()
            token = catalogue.current()
            if token is not None:
                try:
                    records = self.snapshot().records
                except IndexUnavailableError:
                    records = catalogue.load(token, None).records
                return {r.path: (r.root, r.name or r.source) for r in records}
        except BackendError:
            raise  # a Chroma server that fails: its own line says what to do
        except (NewsbotError, *_UNREADABLE) as exc:
            log.info("the lexical index cannot be read (%s): asking the vectors", exc)
        try:
            vectors = self.vector
            return vectors.where_found() if isinstance(vectors, VectorIndex) else {}
        except BackendError:
            raise
        except NewsbotError as exc:
            raise IndexUnavailableError(
                "neither the lexical index nor the vectors say which paths the index was "
                f"built from ({exc}); name them: `newsbot ingest --rebuild PATH…`"
            ) from exc

    def _publish(
        self,
        records: Sequence[PassageRecord],
        vectors: VectorIndex,
        catalogue: Catalogue,
        lease: ChromaLease | None,
    ) -> None:
        snapshot = LexicalIndex.build(records, embedding=self.embedding_name)
        if lease is not None:
            lease.check()
        try:
            token = catalogue.publish(snapshot)
        except OSError as exc:
            raise IndexUnavailableError(
                f"could not write the lexical index in {self.data_dir} "
                f"({exc.strerror or exc}); the previous index is unchanged"
            ) from exc
        with self._loading, self._lock:
            # This process answers from the new index at once, through the view that
            # wrote it.
            self._snapshot, self._snapshot_token = snapshot, token
            self._vector, self._vector_stale = vectors, False

    def keeps_sentences(self) -> bool:
        """Whether the vectors of the passages' sentences are stored: with an embedding
        model, not with the hashing embedding (no model) or none."""
        return matches_meaning(self.embedding)

    def batch_embedder(self) -> Callable[[Sequence[str]], np.ndarray] | None:
        """The embedding's own path for many texts at once (`BatchEmbedding.vectors`);
        None for an embedding without one, or none."""
        return self.embedding.vectors if isinstance(self.embedding, BatchEmbedding) else None

    @staticmethod
    def _sentences(record: PassageRecord) -> list[SentenceSpan]:
        units = answer_units(record.text, title=record.title, language=record.language)
        return [SentenceSpan(unit.start, unit.end, unit.text) for unit in units]

    def _embed_batch(self) -> int | None:
        """Passages embedded per step: few for a model, so that progress and resumption
        are fine-grained; the client's maximum for the hashing embedding, which is cheap."""
        return MODEL_EMBED_BATCH if matches_meaning(self.embedding) else None

    def _embed(self, texts: list[str]) -> np.ndarray:
        # The bundled and hashing embeddings compute a whole batch in one go; others go
        # through llama-index's batching.
        assert self.embedding is not None, "ingest stores no vectors without a model"
        batch = self.batch_embedder()
        if batch is not None:
            return np.asarray(batch(texts), dtype=np.float32)
        return np.asarray(self.embedding.get_text_embedding_batch(texts), dtype=np.float32)

    def _set_aside_vector_store(self) -> Path:
        """Embedded store: move Chroma's files, which cannot be read, out of the way (never
        delete them: they may be all the user has). Returns where they went."""
        with self._lock:
            self._vector = None
        forget_clients()
        store = self.storage.chroma.path
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = store.with_name(f"{store.name}.damaged-{stamp}")
        number = 1
        while os.path.lexists(aside):
            number += 1
            aside = store.with_name(f"{store.name}.damaged-{stamp}-{number}")
        try:
            store.rename(aside)
        except OSError as exc:
            raise IndexUnavailableError(
                f"{self.where.description} cannot be read, and could not be moved aside to "
                f"{aside} ({exc.strerror or exc}); move it yourself, then run "
                "`newsbot ingest --rebuild`"
            ) from exc
        return aside


def _check_paths(paths: Sequence[Path]) -> None:
    """Raise BadInputError, before anything is read, if a path is neither a folder nor a
    regular file (gone, a device, a pipe, a link loop)."""
    unusable: dict[str, list[str]] = {}
    for path in paths:
        if not (path.is_dir() or path.is_file()):
            unusable.setdefault(unusable_path(path), []).append(escaped_name(str(path)))
    if unusable:
        problems = "; ".join(f"{why}: {', '.join(names)}" for why, names in unusable.items())
        raise BadInputError(f"{problems}; nothing was indexed")


def _guessed_paths(articles: dict[str, tuple[str, str]]) -> str:
    """The folders the articles of an index without roots were most likely ingested from, as
    arguments: each article's path less its name."""
    import shlex

    folders = set()
    for path, (_, name) in articles.items():
        folder = path[: -len(name) - 1] if path.endswith("/" + name) else str(Path(path).parent)
        folders.add(folder or "/")
    return " ".join(shlex.quote(folder) for folder in sorted(folders))
