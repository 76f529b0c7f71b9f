"""The two indexes over one set of passages, kept in step.

The lexical snapshot is the catalogue: it names every passage that is indexed.
An ingest adds new vectors to Chroma first, then publishes the new snapshot, then
deletes vectors that no snapshot names any more. Readers only use vector hits that
their snapshot names, so at every moment both sides describe the same passages,
and an ingest that dies half-way leaves the previous index whole; the next ingest
reconciles Chroma with the catalogue.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import IndexUnavailableError, IngestBusyError
from rag.ingest import plan_ingest
from rag.lexical import LexicalIndex, PassageRecord, generation_of
from rag.models import ArticleInfo, IngestReport

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag.settings import Settings
    from rag.vector_store import VectorIndex

ProgressCallback = Callable[[str, int, int], None]
LOCK_FILE = ".ingest.lock"


class NewsIndex:
    """Chroma and the lexical snapshot under one data directory."""

    def __init__(self, settings: Settings, embedding: BaseEmbedding, embedding_name: str) -> None:
        self.settings = settings
        self.embedding = embedding
        self.embedding_name = embedding_name
        self.data_dir = settings.data_dir
        self._vector: VectorIndex | None = None
        self._snapshot: LexicalIndex | None = None
        self._snapshot_name: str | None = None
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------

    @property
    def vector(self) -> VectorIndex:
        with self._lock:
            if self._vector is None:
                from rag.vector_store import VectorIndex

                self._ensure_data_dir()
                self._vector = VectorIndex(self.settings.chroma_dir(), self.settings.collection)
            return self._vector

    def exists(self) -> bool:
        """Whether anything was ever indexed in this data directory."""
        return LexicalIndex.current_name(self.settings.lexical_dir()) is not None

    def snapshot(self) -> LexicalIndex:
        """The newest published snapshot; reloaded when an ingest published a new one."""
        root = self.settings.lexical_dir()
        name = LexicalIndex.current_name(root)
        with self._lock:
            if self._snapshot is not None and name == self._snapshot_name:
                return self._snapshot
            for attempt in range(3):
                try:
                    snapshot = LexicalIndex.load(root)
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    newer = LexicalIndex.current_name(root)
                    if newer != name and attempt < 2:
                        # An ingest replaced the snapshot while we read it.
                        name = newer
                        continue
                    raise IndexUnavailableError(
                        f"the index in {self.data_dir} is unreadable ({type(exc).__name__}: "
                        f"{exc}); run `newsbot ingest --rebuild`"
                    ) from exc
                break
            if snapshot is None:
                snapshot = LexicalIndex([], None, generation="empty", embedding=self.embedding_name)
            elif snapshot.embedding != self.embedding_name:
                raise IndexUnavailableError(
                    f"the index in {self.data_dir} was built with the embedding "
                    f"{snapshot.embedding!r}, not the configured {self.embedding_name!r}; "
                    "run `newsbot ingest --rebuild` to re-embed the articles"
                )
            self._snapshot, self._snapshot_name = snapshot, name
            return snapshot

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
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise IndexUnavailableError(
                f"cannot write to the data directory {self.data_dir} ({exc.strerror or exc}); "
                "set NEWSBOT_DATA_DIR to a writable folder"
            ) from exc

    @contextlib.contextmanager
    def _ingest_lock(self) -> Iterator[None]:
        self._ensure_data_dir()
        path = self.data_dir / LOCK_FILE
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IngestBusyError(
                    f"another ingest ({holder}) is writing to {self.data_dir}; "
                    "wait for it to finish, then run this one again"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        rebuild: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Bring the index in line with the articles under `paths`."""
        started = time.perf_counter()
        with self._ingest_lock():
            if rebuild:
                self._wipe()
                indexed: list[PassageRecord] = []
            else:
                indexed = self.snapshot().records
            plan = plan_ingest(
                paths,
                indexed,
                chunk_size=self.settings.chunk_size,
                chunk_overlap=self.settings.chunk_overlap,
                progress=(lambda done, total: progress("read", done, total)) if progress else None,
            )
            vector = self.vector
            present = vector.ids()
            wanted = {record.passage_id for record in plan.records}
            to_add = [record for record in plan.records if record.passage_id not in present]
            done = 0

            def advance(count: int) -> None:
                nonlocal done
                done += count
                if progress:
                    progress("embed", done, len(to_add))

            vector.set_embedding_model(self.embedding_name)
            vector.add(to_add, self._embed, advance)
            unchanged = (
                not rebuild
                and generation_of(wanted) == self.snapshot().generation
                and [r.doc_hash for r in plan.records] == [r.doc_hash for r in indexed]
            )
            if not unchanged:
                snapshot = LexicalIndex.build(plan.records, embedding=self.embedding_name)
                try:
                    snapshot.save(self.settings.lexical_dir())
                except OSError as exc:
                    raise IndexUnavailableError(
                        f"could not write the lexical index in {self.data_dir} "
                        f"({exc.strerror or exc}); the previous index is unchanged"
                    ) from exc
            vector.delete(sorted(present - wanted))
        return IngestReport(
            articles=plan.articles,
            passages=len(plan.records),
            added=plan.added,
            updated=plan.updated,
            removed=plan.removed,
            unchanged=plan.unchanged,
            skipped=plan.skipped,
            seconds=time.perf_counter() - started,
        )

    def _embed(self, texts: list[str]) -> np.ndarray:
        # The offline embedding computes a whole batch in one go; others go through
        # llama-index's batching.
        vectors = getattr(self.embedding, "vectors", None)
        if callable(vectors):
            return np.asarray(vectors(texts), dtype=np.float32)
        return np.asarray(self.embedding.get_text_embedding_batch(texts), dtype=np.float32)

    def _wipe(self) -> None:
        with self._lock:
            self._snapshot = None
            self._snapshot_name = None
        shutil.rmtree(self.settings.lexical_dir(), ignore_errors=True)
        try:
            self.vector.reset()
        except Exception:
            # The store is too damaged to open: start it afresh.
            from rag.vector_store import forget_clients

            with self._lock:
                self._vector = None
            forget_clients()
            shutil.rmtree(self.settings.chroma_dir(), ignore_errors=True)
