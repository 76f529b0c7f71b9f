"""The vector side: passages with their embeddings in Chroma, embedded or on a server.

`connect` opens either an embedded `PersistentClient` in the data dir or an `HttpClient`
to the server named by NEWSBOT_CHROMA_URL; `VectorIndex` is one collection on it, with
the vectors of the passages' sentences in a second one beside it (`<name>.sentences`),
written before their passage and deleted with it, so that a stored passage always has its
sentences. Every
Chroma call goes through `VectorIndex.calling`, which turns Chroma's and the network's exceptions
into one-line errors naming the store (never a token) and marks the index as failed, so
that its owner reconnects before the next question.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import BackendError, IndexUnavailableError, NewsbotError
from rag.safe_text import escaped_name, redact
from rag.store.lexical import PassageRecord

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from rag.settings import ChromaConfig

# Passages per add, bounded by the client's own maximum batch size.
ADD_BATCH = 5000
# Bytes of JSON per request to a Chroma server, well under its default limit (40 MiB,
# `max_payload_size_bytes`). A server configured lower refuses a batch as "Payload too
# large"; it is then split.
REQUEST_BUDGET_BYTES = 8_000_000
# Passages a model embeds before they are stored: an interrupted ingest loses at most
# this many embeddings (the next one skips what is stored), and progress moves every few
# seconds even on two cores.
MODEL_EMBED_BATCH = 32
GET_BATCH = 5000
# Passages whose sentences one `get` asks for (a filter on their ids).
SENTENCE_GET_PASSAGES = 500
# A smaller HNSW build beam than Chroma's default 100 makes adding vectors several
# times faster (benchmarks/scale.py).
HNSW_EF_CONSTRUCTION = 32
# The search beam. With Chroma's default 100, a search for one language's nearest 200
# sentences over that graph found only 89-99% of them, and a different few from one process
# to the next: the same question could be answered, or refused, depending on the run. With
# 1000, at least 99.5% (mean 100%), the same each time, on the trust benchmark's archive
# (benchmarks/search_recall.py).
HNSW_EF_SEARCH = 1000
EMBEDDING_KEY = "newsbot_embedding"
# Set once an ingest has published a lexical snapshot beside these vectors: vectors without
# it are an interrupted first ingest (resumable), with it a lexical index that went missing.
PUBLISHED_KEY = "newsbot_published"
# Passage fields kept in Chroma beside llama-index's own keys, so that a process that only
# shares the Chroma server can rebuild the lexical index from it.
RECORD_KEYS = ("article_id", "path", "doc_hash", "terms", "words", "root", "name")
SENTENCES_SUFFIX = ".sentences"
# Set to SENTENCE_FORMAT once every stored passage has its sentences' vectors; raised when
# what is embedded of a sentence changes, so that the next ingest embeds them again.
SENTENCES_KEY = "newsbot_sentences"
SENTENCE_FORMAT = 1
# Bytes of one sentence record in a request besides its vector: ids and metadata.
SENTENCE_RECORD_BYTES = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChromaLocation:
    """Where the vectors are, as users should read it in an error message."""

    description: str
    server: bool
    # Blanked out of error messages (a server may echo the request's headers).
    secret: str = field(default="", repr=False)

    def describe(self, exc: BaseException) -> str:
        """`exc` in a few words, on one line, without the secret."""
        import httpx

        if isinstance(exc, httpx.HTTPStatusError):
            response = exc.response
            hint = ", check NEWSBOT_CHROMA_AUTH_TOKEN" if response.status_code in (401, 403) else ""
            return f"HTTP {response.status_code} {response.reason_phrase}{hint}"
        text = redact(" ".join(str(exc).split()), [self.secret])
        if len(text) > 200:
            text = text[:200] + "…"
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def location_of(chroma: ChromaConfig) -> ChromaLocation:
    if chroma.url:
        return ChromaLocation(
            f"the Chroma server at {chroma.url}", server=True, secret=chroma.auth_token or ""
        )
    return ChromaLocation(f"the Chroma store in {chroma.path}", server=False)


def _network_failure(exc: BaseException, where: ChromaLocation) -> str | None:
    """What went wrong on the network, in a few words, if that is what `exc` is about."""
    import httpx

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if not any(isinstance(link, httpx.TransportError) for link in chain):
        return None
    for link in chain:
        if isinstance(link, httpx.TimeoutException):
            return "no answer in time, see NEWSBOT_CHROMA_TIMEOUT"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror.lower()
    return where.describe(chain[-1])


# What SQLite and Chroma say about a store's files, by what is wrong with them. Chroma
# reports a damaged log table as logs it failed to pull.
_DAMAGE_SIGNS = (
    "database disk image is malformed",
    "file is not a database",
    "failed to pull logs from the log store",
)
_FULL_SIGNS = ("database or disk is full", "no space left on device", "disk quota exceeded")
_READ_ONLY_SIGNS = ("readonly database", "read-only file system", "permission denied")
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def is_panic(exc: BaseException) -> bool:
    """Whether `exc` is a panic of Chroma's Rust core: a BaseException, not an Exception."""
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def store_failure(exc: BaseException) -> tuple[str, str] | None:
    """What is wrong with the embedded store's files, if `exc` says: ("damaged", "full" or
    "read-only", and the words that say so); None for anything else. A panic while
    reading the store is damage."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL_ERRNOS:
            return "full", exc.strerror or "no space left"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read-only", exc.strerror or "read-only"
    text = " ".join(str(exc).split()).lower()
    for cause, signs in (
        ("damaged", _DAMAGE_SIGNS),
        ("full", _FULL_SIGNS),
        ("read-only", _READ_ONLY_SIGNS),
    ):
        for sign in signs:
            if sign in text:
                return cause, sign
    if is_panic(exc):
        return "damaged", f"Chroma panicked: {text[:120]}"
    return None


class VectorStoreUnusable(IndexUnavailableError):
    """The embedded store's files are damaged, on a full disk, or read-only (`cause`)."""

    def __init__(self, message: str, cause: str, words: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.words = words


REBUILD_ADVICE = "to set it aside and build the index again, run `newsbot ingest --rebuild`"


def _store_error(
    exc: BaseException, where: ChromaLocation, *, writing: bool
) -> VectorStoreUnusable | None:
    failure = store_failure(exc)
    if failure is None:
        return None
    cause, words = failure
    unchanged = "nothing was published and the previous index is unchanged; " if writing else ""
    again = "run the ingest again" if writing else "try again"
    if cause == "damaged":
        message = f"{where.description} is damaged ({words}); {unchanged}{REBUILD_ADVICE}"
    elif cause == "full":
        message = (
            f"the disk holding {where.description} is full ({words}); {unchanged}"
            f"free some space, then {again}"
        )
    else:
        message = (
            f"{where.description} is read-only ({words}); {unchanged}make it writable, or set "
            f"NEWSBOT_DATA_DIR to a writable folder, then {again}"
        )
    return VectorStoreUnusable(message, cause, words)


WRITE_ADVICE = (
    "nothing was published and the previous index is unchanged; free some space or make "
    "the store writable, then run the ingest again"
)
SERVER_WRITE_ADVICE = (
    "nothing was published and the previous index is unchanged; run the ingest again "
    "once the server answers (passages already stored are kept)"
)


class PayloadTooLarge(BackendError):
    """One passage alone is more than the Chroma server accepts in a request."""


def is_payload_too_large(exc: BaseException) -> bool:
    """Whether a Chroma server refused a request for its size (HTTP 413)."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 413
    return "payload too large" in str(exc).lower()


def request_bytes(record: PassageRecord, metadata: dict[str, Any], vector: Sequence[float]) -> int:
    """About how many bytes of JSON one passage adds to an upsert request (Chroma's client
    sends UTF-8 JSON; a float32 takes at most ~24 characters)."""
    import json

    return (
        len(json.dumps(record.text, ensure_ascii=False).encode())
        + len(json.dumps(metadata, ensure_ascii=False).encode())
        + 24 * len(vector)
        + len(record.passage_id)
        + 16
    )


def _error_for(exc: BaseException, where: ChromaLocation, *, writing: bool) -> NewsbotError:
    if isinstance(exc, NewsbotError):
        return exc
    if not where.server and (unusable := _store_error(exc, where, writing=writing)):
        return unusable
    if where.server:
        failure = _network_failure(exc, where)
        if failure is not None:
            message = (
                f"cannot reach {where.description} ({failure}); "
                "is `chroma run` running there? (NEWSBOT_CHROMA_URL)"
            )
        else:
            message = f"{where.description} failed ({where.describe(exc)})"
        return BackendError(message + (f"; {SERVER_WRITE_ADVICE}" if writing else ""))
    advice = WRITE_ADVICE if writing else "if this persists, run `newsbot ingest --rebuild`"
    return IndexUnavailableError(f"{where.description} failed ({where.describe(exc)}); {advice}")


@contextlib.contextmanager
def chroma_errors(where: ChromaLocation, *, writing: bool = False) -> Iterator[None]:
    """Turn what Chroma or the network raises into one-line newsbot errors.

    `writing`: the call is part of an ingest, before it publishes anything.
    """
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, Exception) and not is_panic(exc):
            raise
        error = _error_for(exc, where, writing=writing)
        if error is exc:
            raise
        raise error from exc


_OPENING = threading.Lock()


@contextlib.contextmanager
def _rust_panic_held_back() -> Iterator[None]:
    """Hold back what is written to standard error while the block opens the embedded store.

    A panic in Chroma's Rust core prints its message and a backtrace there (dozens of
    lines) before Python sees the exception; the user gets one line instead, and the
    panic's text goes to the debug log. Anything else written meanwhile (another thread's
    log) comes out when the block ends.
    """
    with _OPENING:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no standard error to hold back
            yield
            return
        panicked = False
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except BaseException as exc:
                panicked = is_panic(exc) or (exc.__cause__ is not None and is_panic(exc.__cause__))
                raise
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                written = held.read()
                if panicked:
                    log.debug("Chroma panicked:\n%s", written.decode(errors="replace"))
                elif written:
                    os.write(2, written)


def connect(chroma: ChromaConfig) -> ClientAPI:
    """A new Chroma client: on the server if NEWSBOT_CHROMA_URL is set, else embedded."""
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    where = location_of(chroma)
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not chroma.url:
        with chroma_errors(where):
            return _fresh_persistent_client(chroma.path, chroma_settings)
    headers: dict[str, str] = {}
    token = chroma.auth_token or ""
    if token:
        if chroma.auth_header == "Authorization":
            headers["Authorization"] = f"Bearer {token}"
        else:
            headers[chroma.auth_header] = token
    timeout = httpx.Timeout(chroma.timeout, connect=min(chroma.timeout, 10.0))
    with chroma_errors(where):
        # chromadb's HttpClient waits forever, starting with the requests it makes when it
        # is created: check that the server answers first, then bound every request.
        httpx.get(
            f"{chroma.url}/api/v2/heartbeat", headers=headers, timeout=timeout
        ).raise_for_status()
        client = chromadb.HttpClient(host=chroma.url, headers=headers, settings=chroma_settings)
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = timeout
    return client


def open_index(chroma: ChromaConfig, collection: str) -> VectorIndex:
    """The collection `collection` on a new client (see `connect`). The embedded store is
    also counted, which reads what Chroma needs to answer or add: damage shows here, as one
    line, rather than at the first question."""
    where = location_of(chroma)
    if where.server:
        return VectorIndex(connect(chroma), collection, where)
    with chroma_errors(where), _rust_panic_held_back():
        vectors = VectorIndex(connect(chroma), collection, where)
        vectors.count()
    return vectors


def _fresh_persistent_client(path: Path, chroma_settings: Any) -> ClientAPI:
    """An embedded client with its own view of the store.

    Chroma shares one in-memory system per path inside a process, and that system never
    sees what another process wrote since it loaded the HNSW index; worse, writing
    through it would save the stale index over the other process's additions. So each
    ingest, and each reader after another process published, opens a new one. Clients
    already handed out keep working on the system they hold.
    """
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = str(path)
    SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)
    return chromadb.PersistentClient(path=identifier, settings=chroma_settings)


def forget_clients() -> None:
    """Make Chroma forget the clients it caches per path, before their files are removed."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def record_metadata(record: PassageRecord) -> dict[str, Any]:
    """Chroma metadata for a passage: llama-index's node keys plus the catalogue fields."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    node = TextNode(
        id_=record.passage_id,
        text=record.text,
        metadata={
            "source": record.source,
            "title": record.title,
            "language": record.language,
            "start": record.start,
            "end": record.end,
        },
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=record.article_id)},
    )
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    metadata.update({key: getattr(record, key) for key in RECORD_KEYS})
    return {key: "" if value is None else value for key, value in metadata.items()}


def _of_passages(passage_ids: Sequence[str]) -> Any:
    """A Chroma `where` filter: the sentences of these passages."""
    return {"passage_id": {"$in": list(passage_ids)}}


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a passage: where it is in the passage's text, and what is embedded."""

    start: int
    end: int
    text: str


def sentence_id(passage_id: str, start: int) -> str:
    return f"{passage_id}:{start}"


def record_from_chroma(passage_id: str, text: str, metadata: dict[str, Any]) -> PassageRecord:
    """The passage a Chroma record describes; KeyError if it lacks a catalogue field."""
    return PassageRecord(
        passage_id=passage_id,
        article_id=str(metadata["article_id"]),
        source=str(metadata["source"]),
        path=str(metadata["path"]),
        doc_hash=str(metadata["doc_hash"]),
        title=str(metadata["title"]),
        language=str(metadata["language"]),
        start=int(metadata["start"]),
        end=int(metadata["end"]),
        text=text,
        terms=str(metadata["terms"]),
        words=str(metadata["words"]),
        # Stored since newsbot kept the paths it ingested.
        root=str(metadata.get("root", "")),
        name=str(metadata.get("name", "")),
    )


class VectorIndex:
    """A Chroma collection that never computes embeddings itself."""

    def __init__(self, client: ClientAPI, collection_name: str, where: ChromaLocation) -> None:
        self.client = client
        self._collection_name = collection_name
        self.where = where
        self.failed = False
        self._sentences: Collection | None = None
        with self.calling():
            self._open_collection()

    @contextlib.contextmanager
    def calling(self, *, writing: bool = False) -> Iterator[None]:
        """Wrap a call on this index's client: errors become one line, and mark it failed."""
        try:
            yield
        except NewsbotError:
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception) and not is_panic(exc):
                raise
            self.failed = True
            raise _error_for(exc, self.where, writing=writing) from exc

    def _open_collection(self) -> None:
        from chromadb.api.collection_configuration import CreateHNSWConfiguration

        hnsw: CreateHNSWConfiguration = {
            "space": "cosine",
            "ef_construction": HNSW_EF_CONSTRUCTION,
            "ef_search": HNSW_EF_SEARCH,
        }
        self._collection: Collection = self.client.get_or_create_collection(
            self._collection_name, embedding_function=None, configuration={"hnsw": hnsw}
        )
        self._batch = max(1, min(ADD_BATCH, int(self.client.get_max_batch_size())))
        self._request_budget = REQUEST_BUDGET_BYTES if self.where.server else None

    def _sentence_collection(self) -> Collection:
        if self._sentences is None:
            from chromadb.api.collection_configuration import CreateHNSWConfiguration

            hnsw: CreateHNSWConfiguration = {
                "space": "cosine",
                "ef_construction": HNSW_EF_CONSTRUCTION,
                "ef_search": HNSW_EF_SEARCH,
            }
            self._sentences = self.client.get_or_create_collection(
                self._collection_name + SENTENCES_SUFFIX,
                embedding_function=None,
                configuration={"hnsw": hnsw},
            )
        return self._sentences

    def _has_sentence_collection(self) -> bool:
        if self._sentences is not None:
            return True
        names = {getattr(c, "name", c) for c in self.client.list_collections()}
        return self._collection_name + SENTENCES_SUFFIX in names

    def reset(self) -> None:
        """Drop every vector by recreating the collections."""
        with self.calling(writing=True):
            with contextlib.suppress(Exception):
                self.client.delete_collection(self._collection_name)
            with contextlib.suppress(Exception):
                self.client.delete_collection(self._collection_name + SENTENCES_SUFFIX)
            self._sentences = None
            self._open_collection()

    def count(self) -> int:
        with self.calling():
            return int(self._collection.count())

    def ids(self) -> set[str]:
        # One `get` of everything fails past ~32k ids (SQLite's variable limit): page it.
        found: set[str] = set()
        with self.calling(writing=True):
            while True:
                page = self._collection.get(include=[], limit=GET_BATCH, offset=len(found))
                found.update(page["ids"])
                if len(page["ids"]) < GET_BATCH:
                    return found

    def records(self, passage_ids: Sequence[str]) -> dict[str, PassageRecord]:
        """The stored passages among `passage_ids`, by id (missing ones are left out)."""
        found: dict[str, PassageRecord] = {}
        with self.calling():
            for offset in range(0, len(passage_ids), GET_BATCH):
                batch = list(passage_ids[offset : offset + GET_BATCH])
                result = self._collection.get(ids=batch, include=["documents", "metadatas"])
                documents = result["documents"] or []
                metadatas = result["metadatas"] or []
                for passage_id, text, metadata in zip(
                    result["ids"], documents, metadatas, strict=True
                ):
                    found[passage_id] = record_from_chroma(passage_id, text, dict(metadata))
        return found

    def where_found(self) -> dict[str, tuple[str, str]]:
        """The root and name (see PassageRecord) of every stored article, by its path: what
        the vectors remember of the paths ingested when the lexical index is lost."""
        found: dict[str, tuple[str, str]] = {}
        with self.calling():
            offset = 0
            while True:
                page = self._collection.get(include=["metadatas"], limit=GET_BATCH, offset=offset)
                for metadata in page["metadatas"] or []:
                    if "path" in metadata:
                        name = metadata.get("name") or metadata.get("source", "")
                        found[str(metadata["path"])] = (str(metadata.get("root", "")), str(name))
                offset += len(page["ids"])
                if len(page["ids"]) < GET_BATCH:
                    return found

    def update_metadata(self, records: Sequence[PassageRecord]) -> None:
        """Store the catalogue fields of passages already stored (an article renamed or
        found under another root keeps its text, so its vectors), without embedding them."""
        with self.calling(writing=True):
            for offset in range(0, len(records), self._batch):
                batch = records[offset : offset + self._batch]
                metadatas: list[Any] = [record_metadata(record) for record in batch]
                self._collection.update(
                    ids=[record.passage_id for record in batch], metadatas=metadatas
                )

    def update_sentence_metadata(
        self,
        records: Sequence[PassageRecord],
        sentences: Callable[[PassageRecord], Sequence[SentenceSpan]],
    ) -> None:
        """Store the fields of stored passages' sentences again (their language, when the
        passage's changed), without embedding them; sentences not stored are passed over."""
        ids, metadatas = _sentence_rows(records, [list(sentences(record)) for record in records])
        with self.calling(writing=True):
            if not ids or not self._has_sentence_collection():
                return
            collection = self._sentence_collection()
            for offset in range(0, len(ids), self._batch):
                end = offset + self._batch
                collection.update(ids=ids[offset:end], metadatas=metadatas[offset:end])

    def embedding_model(self) -> str | None:
        metadata = self._collection.metadata or {}
        value = metadata.get(EMBEDDING_KEY)
        return str(value) if value else None

    def set_embedding_model(self, name: str) -> None:
        self._set_metadata(EMBEDDING_KEY, name)

    def drop_sentences(self) -> None:
        """Delete every sentence vector (to store them again)."""
        with self.calling(writing=True):
            with contextlib.suppress(Exception):
                self.client.delete_collection(self._collection_name + SENTENCES_SUFFIX)
            self._sentences = None

    def sentences_complete(self) -> bool:
        """Whether every stored passage has its sentences' vectors, as this version embeds
        them (an empty store trivially has)."""
        with self.calling():
            value = (self._collection.metadata or {}).get(SENTENCES_KEY)
            return value == SENTENCE_FORMAT or self._collection.count() == 0

    def mark_sentences_complete(self) -> None:
        self._set_metadata(SENTENCES_KEY, SENTENCE_FORMAT)

    def published(self) -> bool:
        """Whether an ingest has ever published a lexical index beside these vectors."""
        with self.calling():
            return bool((self._collection.metadata or {}).get(PUBLISHED_KEY))

    def mark_published(self) -> None:
        self._set_metadata(PUBLISHED_KEY, True)

    def ensure_search_beam(self) -> None:
        """Give collections made with a narrower search beam (before HNSW_EF_SEARCH) this
        one; an ingest does, since a question never writes."""
        names = [self._collection_name]
        if self._has_sentence_collection():
            names.append(self._collection_name + SENTENCES_SUFFIX)
        with self.calling(writing=True):
            for name in names:
                # Fetched again: its configuration as it is now.
                collection = self.client.get_collection(name, embedding_function=None)
                hnsw = (collection.configuration_json or {}).get("hnsw") or {}
                if int(hnsw.get("ef_search") or 0) < HNSW_EF_SEARCH:
                    collection.modify(configuration={"hnsw": {"ef_search": HNSW_EF_SEARCH}})

    def _set_metadata(self, key: str, value: str | bool | int) -> None:
        with self.calling(writing=True):
            metadata = dict(self._collection.metadata or {})
            if metadata.get(key) == value:
                return
            metadata[key] = value
            self._collection.modify(metadata=metadata)

    def add(
        self,
        records: Sequence[PassageRecord],
        embed: Callable[[list[str]], np.ndarray | list[list[float]]],
        progress: Callable[[int], None] | None = None,
        *,
        embed_batch: int | None = None,
        sentences: Callable[[PassageRecord], Sequence[SentenceSpan]] | None = None,
        passages: bool = True,
    ) -> None:
        """Embed and store passages in batches of `embed_batch` (default: as many as the
        client takes), replacing any stored under the same ids; a text repeated within a
        batch is embedded once. With `sentences`, the
        vectors of each passage's sentences are stored too, before the passage's own;
        `passages=False` stores only those (for passages stored without them).

        The next batch is embedded in a worker thread while this one is written to Chroma
        (the model's C engine runs without the GIL), so that writing costs the ingest
        almost nothing beside embedding. An interruption loses at most the batch being
        embedded: what was written stays, and the next ingest skips it.
        """
        from concurrent.futures import ThreadPoolExecutor

        size = min(self._batch, embed_batch or self._batch)
        batches = [records[offset : offset + size] for offset in range(0, len(records), size)]
        if not batches:
            return

        def texts_of(batch: Sequence[PassageRecord]) -> tuple[list[str], list[list[SentenceSpan]]]:
            spans = [list(sentences(record)) if sentences else [] for record in batch]
            texts = [record.text for record in batch] if passages else []
            return texts + [span.text for found in spans for span in found], spans

        def embedded(batch: Sequence[PassageRecord]) -> tuple[np.ndarray, list[list[SentenceSpan]]]:
            texts, spans = texts_of(batch)
            if not texts:
                return np.zeros((0, 0)), spans
            # A text repeated in a batch (a sentence in the overlap of two passages, a news
            # feed's boilerplate) is embedded once.
            row_of: dict[str, int] = {}
            rows = [row_of.setdefault(text, len(row_of)) for text in texts]
            vectors = np.asarray(embed(list(row_of)), dtype=np.float32)
            return (vectors if len(row_of) == len(texts) else vectors[rows]), spans

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-embed") as worker:
            pending = worker.submit(embedded, batches[0])
            for number, batch in enumerate(batches):
                vectors, spans = pending.result()
                if number + 1 < len(batches):
                    pending = worker.submit(embedded, batches[number + 1])
                passage_count = len(batch) if passages else 0
                if sentences:
                    self._upsert_sentences(batch, spans, vectors[passage_count:])
                if passages:
                    self._upsert(batch, vectors[:passage_count])
                if progress:
                    progress(len(batch))

    def _upsert_sentences(
        self,
        batch: Sequence[PassageRecord],
        spans: Sequence[Sequence[SentenceSpan]],
        vectors: np.ndarray,
    ) -> None:
        """Write the sentences of a batch of passages, in requests a server accepts."""
        ids, metadatas = _sentence_rows(batch, spans)
        if not ids:
            return
        per_request = len(ids)
        if self._request_budget is not None:
            one = SENTENCE_RECORD_BYTES + 20 * vectors.shape[1]
            per_request = max(1, self._request_budget // one)
        with self.calling(writing=True):
            collection = self._sentence_collection()
            for offset in range(0, len(ids), min(per_request, self._batch)):
                end = offset + min(per_request, self._batch)
                collection.upsert(
                    ids=ids[offset:end],
                    embeddings=vectors[offset:end],
                    metadatas=metadatas[offset:end],
                )

    def _upsert(self, records: Sequence[PassageRecord], vectors: np.ndarray) -> None:
        """Write passages, in requests a Chroma server accepts.

        Requests are cut to the byte budget; one the server still refuses for its size is
        split in half and sent again, and the budget shrinks to what was refused, so that
        the rest of the ingest doesn't pay for the refusal again.
        """
        metadatas: list[Any] = [record_metadata(record) for record in records]
        if self._request_budget is None:
            self._upsert_request(records, vectors, metadatas)
            return
        sizes = [
            request_bytes(record, metadata, vector)
            for record, metadata, vector in zip(records, metadatas, vectors, strict=True)
        ]
        start = 0
        while start < len(records):
            end, total = start, 0
            while end < len(records) and (
                end == start or total + sizes[end] <= self._request_budget
            ):
                total += sizes[end]
                end += 1
            self._upsert_splitting(
                records[start:end], vectors[start:end], metadatas[start:end], total
            )
            start = end

    def _upsert_splitting(
        self,
        records: Sequence[PassageRecord],
        vectors: np.ndarray,
        metadatas: list[Any],
        size: int,
    ) -> None:
        try:
            self._upsert_request(records, vectors, metadatas)
        except PayloadTooLarge:
            if len(records) == 1:
                raise
            self._request_budget = max(1, min(self._request_budget or size, size // 2))
            log.info("the Chroma server refused %d bytes; sending halves", size)
            half = len(records) // 2
            self._upsert_splitting(records[:half], vectors[:half], metadatas[:half], size // 2)
            self._upsert_splitting(records[half:], vectors[half:], metadatas[half:], size // 2)

    def _upsert_request(
        self,
        records: Sequence[PassageRecord],
        vectors: np.ndarray,
        metadatas: list[Any],
    ) -> None:
        try:
            self._collection.upsert(
                ids=[record.passage_id for record in records],
                embeddings=vectors,
                documents=[record.text for record in records],
                metadatas=metadatas,
            )
        except BaseException as exc:
            if not isinstance(exc, Exception) and not is_panic(exc):
                raise
            if self.where.server and is_payload_too_large(exc):
                if len(records) > 1:
                    raise PayloadTooLarge("refused for its size") from exc
                self.failed = True
                raise PayloadTooLarge(
                    f"{self.where.description} refuses even one passage "
                    f"({escaped_name(records[0].source)}, {len(records[0].text)} characters) "
                    "as too large; raise `max_payload_size_bytes` in the server's config or "
                    f"lower NEWSBOT_CHUNK_SIZE; {SERVER_WRITE_ADVICE}"
                ) from exc
            self.failed = True
            raise _error_for(exc, self.where, writing=True) from exc

    def delete(self, passage_ids: Sequence[str]) -> None:
        """Delete passages and their sentences (the passage first: a stored passage always
        has its sentences)."""
        with self.calling(writing=True):
            sentences = self._has_sentence_collection()
            for offset in range(0, len(passage_ids), self._batch):
                batch = list(passage_ids[offset : offset + self._batch])
                self._collection.delete(ids=batch)
                if sentences:
                    self._sentence_collection().delete(where=_of_passages(batch))

    def query(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, float]]:
        """Passage ids and cosine similarities of the `k` nearest passages (of those in
        `language`, if given)."""
        if k <= 0:
            return []
        with self.calling():
            result = self._collection.query(
                query_embeddings=np.asarray([vector], dtype=np.float32),
                n_results=k,
                where={"language": language} if language else None,
                include=["distances"],
            )
        ids = result["ids"][0] if result["ids"] else []
        distances = (result["distances"] or [[]])[0]
        # The collection's space is cosine: distance = 1 - cosine similarity.
        return [(str(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=False)]

    def query_sentences(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, int, float]]:
        """(passage id, sentence start, cosine similarity) of the `k` nearest sentences (of
        those in `language`, if given); [] when no sentences are stored."""
        if k <= 0:
            return []
        with self.calling():
            if not self._has_sentence_collection():
                return []
            result = self._sentence_collection().query(
                query_embeddings=np.asarray([vector], dtype=np.float32),
                n_results=k,
                where={"language": language} if language else None,
                # The ids say whose and where (sentence_id); metadata would cost 5 times as
                # much for thousands of hits.
                include=["distances"],
            )
        ids = result["ids"][0] if result["ids"] else []
        distances = (result["distances"] or [[]])[0]
        hits = []
        for sentence, distance in zip(ids, distances, strict=False):
            passage_id, _, start = sentence.rpartition(":")
            hits.append((passage_id, int(start), 1.0 - float(distance)))
        return hits

    def sentence_vectors(self, passage_ids: Sequence[str]) -> dict[tuple[str, int], np.ndarray]:
        """The stored vectors of the sentences of `passage_ids`, by (passage id, start)."""
        found: dict[tuple[str, int], np.ndarray] = {}
        if not passage_ids:
            return found
        with self.calling():
            if not self._has_sentence_collection():
                return found
            for offset in range(0, len(passage_ids), SENTENCE_GET_PASSAGES):
                result = self._sentence_collection().get(
                    where=_of_passages(passage_ids[offset : offset + SENTENCE_GET_PASSAGES]),
                    include=["embeddings", "metadatas"],
                )
                embeddings = result["embeddings"]
                metadatas = result["metadatas"] or []
                if embeddings is None:
                    continue
                for m, e in zip(metadatas, embeddings, strict=True):
                    key = (str(m["passage_id"]), int(m["start"]))  # type: ignore[arg-type]
                    found[key] = np.asarray(e, dtype=np.float32)
        return found

    def passage_vectors(self, passage_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of `passage_ids` (missing ones are left out)."""
        found: dict[str, np.ndarray] = {}
        with self.calling():
            for offset in range(0, len(passage_ids), GET_BATCH):
                batch = list(passage_ids[offset : offset + GET_BATCH])
                result = self._collection.get(ids=batch, include=["embeddings"])
                embeddings = result["embeddings"]
                if embeddings is None:
                    continue
                for passage_id, vector in zip(result["ids"], embeddings, strict=True):
                    found[passage_id] = np.asarray(vector, dtype=np.float32)
        return found

    def warm_up(self) -> None:
        """Load the collection's index now (Chroma loads it on the first query)."""
        with self.calling():
            sample = self._collection.get(limit=1, include=["embeddings"])
            embeddings = sample["embeddings"]
            if embeddings is not None and len(embeddings):
                self._collection.query(
                    query_embeddings=np.asarray(embeddings[:1], dtype=np.float32), n_results=1
                )


def _sentence_rows(
    records: Sequence[PassageRecord], spans: Sequence[Sequence[SentenceSpan]]
) -> tuple[list[str], list[Any]]:
    """The ids and metadata of passages' sentences, as stored."""
    ids: list[str] = []
    metadatas: list[Any] = []
    for record, found in zip(records, spans, strict=True):
        for span in found:
            ids.append(sentence_id(record.passage_id, span.start))
            metadatas.append(
                {
                    "passage_id": record.passage_id,
                    "language": record.language,
                    "start": span.start,
                    "end": span.end,
                }
            )
    return ids, metadatas


class NoVectors:
    """Stands in for the vector index while it cannot be opened safely: no vector hits.
    `busy`: because an ingest is writing the embedded store."""

    failed = True

    def __init__(self, *, busy: bool = False) -> None:
        self.busy = busy

    def query(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, float]]:
        return []

    def query_sentences(
        self, vector: list[float], k: int, language: str | None = None
    ) -> list[tuple[str, int, float]]:
        return []

    def sentence_vectors(self, passage_ids: Sequence[str]) -> dict[tuple[str, int], np.ndarray]:
        return {}

    def passage_vectors(self, passage_ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {}

    def count(self) -> int:
        return 0

    def ids(self) -> set[str]:
        return set()
