"""Connecting to Chroma, embedded or on a server, and what its failures look like."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromadb.errors import InternalError

import rag.store.vectors as vector_store
from rag.engine import Engine
from rag.errors import BackendError, IndexUnavailableError
from rag.settings import Settings
from rag.store.ingest import plan_ingest
from rag.store.vectors import (
    HNSW_EF_SEARCH,
    SENTENCES_SUFFIX,
    VectorIndex,
    VectorStoreUnusable,
    chroma_errors,
    connect,
    location_of,
    open_index,
    record_from_chroma,
    record_metadata,
)
from tests.chroma_server import ChromaServer
from tests.conftest import (
    DAMAGED_PAGES,
    SEEDS_DIR,
    damage_chroma_store,
    make_settings,
    unique_collection,
)

TOKEN = "sekrit-token-4711"


class _NotChroma(http.server.BaseHTTPRequestHandler):
    """Records request headers; answers its heartbeat, then 500s that echo the headers;
    or never answers at all."""

    seen: list[dict[str, str]]
    hang: threading.Event | None = None

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.hang is not None:
            self.hang.wait(timeout=30)
            return
        if self.path.endswith("/heartbeat"):
            self._reply(200, {"nanosecond heartbeat": 1})
        else:
            self._reply(500, {"error": "Internal", "message": f"headers {dict(self.headers)}"})

    def _reply(self, status: int, payload: dict[str, object]) -> None:
        body = json.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def not_chroma(*, hang: bool = False) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The URL of a misbehaving HTTP server on 127.0.0.1, and the headers it saw."""
    seen: list[dict[str, str]] = []
    release = threading.Event()
    handler = type("Handler", (_NotChroma,), {"seen": seen, "hang": release if hang else None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Authorization", f"Bearer {TOKEN}"), ("X-Chroma-Token", TOKEN)],
)
def test_token_is_sent_and_never_shown(tmp_path: Path, header: str, expected: str) -> None:
    with not_chroma() as (url, seen):
        chroma = Settings(
            data_dir=tmp_path,
            chroma_url=url,
            chroma_auth_token=TOKEN,  # type: ignore[arg-type]
            chroma_auth_header=header,  # type: ignore[arg-type]
        ).chroma()
        with pytest.raises(BackendError) as failure:
            connect(chroma)
    assert seen and seen[0].get(header) == expected
    message = str(failure.value)
    assert message.startswith(f"the Chroma server at {url} failed")
    assert TOKEN not in message and "***" in message
    assert TOKEN not in repr(location_of(chroma)) and TOKEN not in repr(chroma)


def test_a_server_that_does_not_answer_times_out(tmp_path: Path) -> None:
    with not_chroma(hang=True) as (url, _):
        chroma = Settings(data_dir=tmp_path, chroma_url=url, chroma_timeout=0.5).chroma()
        with pytest.raises(BackendError, match="no answer in time"):
            connect(chroma)


def test_error_advice_depends_on_what_failed(tmp_path: Path) -> None:
    where = location_of(Settings(data_dir=tmp_path).chroma())
    with (
        pytest.raises(IndexUnavailableError, match="run `newsbot ingest --rebuild`"),
        chroma_errors(where),
    ):
        raise RuntimeError("database disk image is malformed")
    with (
        pytest.raises(IndexUnavailableError, match="previous index is unchanged") as failure,
        chroma_errors(where, writing=True),
    ):
        raise RuntimeError("database or disk is full\nsecond line")
    assert "\n" not in str(failure.value)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        # As Chroma's client raises them (chromadb.errors), with SQLite's words.
        (
            InternalError("error returned from database: (code: 13) database or disk is full"),
            "the disk holding the Chroma store in {store} is full (database or disk is full); "
            "free some space, then try again",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device"),
            "the disk holding the Chroma store in {store} is full (No space left on device); "
            "free some space, then try again",
        ),
        (
            InternalError(
                "error returned from database: (code: 8) attempt to write a readonly database"
            ),
            "the Chroma store in {store} is read-only (readonly database); make it writable, or "
            "set NEWSBOT_DATA_DIR to a writable folder, then try again",
        ),
        (
            InternalError(
                "error returned from database: (code: 11) database disk image is malformed"
            ),
            "the Chroma store in {store} is damaged (database disk image is malformed); to set "
            "it aside and build the index again, run `newsbot ingest --rebuild`",
        ),
    ],
)
def test_a_full_disk_a_read_only_store_and_damage_are_named(
    tmp_path: Path, raised: Exception, expected: str
) -> None:
    chroma = Settings(data_dir=tmp_path).chroma()
    with pytest.raises(IndexUnavailableError) as failure, chroma_errors(location_of(chroma)):
        raise raised
    assert str(failure.value) == expected.format(store=chroma.path)


@pytest.mark.parametrize("page", DAMAGED_PAGES)
def test_a_damaged_store_is_one_line_naming_it_and_the_command(
    tmp_path: Path, page: int, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, SEEDS_DIR)
    Engine(settings).ingest()
    damage_chroma_store(settings.data_dir, page)
    capfd.readouterr()
    with pytest.raises(VectorStoreUnusable) as failure:
        open_index(settings.chroma(), settings.collection)
    message = str(failure.value)
    assert message.startswith(f"the Chroma store in {settings.chroma_dir()} is damaged (")
    assert message.endswith("run `newsbot ingest --rebuild`") and failure.value.cause == "damaged"
    # Not a line of the Rust core's panic and backtrace reached standard error.
    assert capfd.readouterr().err == ""


def seed_records(settings: Settings) -> list:  # type: ignore[type-arg]
    return plan_ingest(
        [SEEDS_DIR], [], chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
    ).records


def test_records_survive_a_round_trip_through_chroma_metadata(tmp_path: Path) -> None:
    for record in seed_records(Settings(data_dir=tmp_path)):
        stored = record_metadata(record)
        assert all(isinstance(value, str | int | float | bool) for value in stored.values())
        assert record_from_chroma(record.passage_id, record.text, stored) == record


@pytest.mark.parametrize("mode", ["embedded", pytest.param("server", marks=pytest.mark.slow)])
def test_ids_and_records_are_read_in_pages(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    settings = settings_in(mode, request, tmp_path, corpus)
    records = seed_records(settings)
    index = VectorIndex(
        connect(settings.chroma()), settings.collection, location_of(settings.chroma())
    )
    index.add(records, lambda texts: [[1.0, float(len(text))] for text in texts])
    monkeypatch.setattr(vector_store, "GET_BATCH", 4)
    assert index.ids() == {record.passage_id for record in records}
    wanted = [*[record.passage_id for record in records][::2], "no-such-passage"]
    found = index.records(wanted)
    assert set(found) == set(wanted[:-1])
    assert all(found[r.passage_id] == r for r in records if r.passage_id in found)


@pytest.mark.slow
def test_batches_fit_a_server_with_a_small_request_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are cut by bytes; a batch the server still refuses is split and sent again;
    one passage alone too large is named with what to change."""
    records = seed_records(Settings(data_dir=tmp_path))
    with ChromaServer(tmp_path / "small", max_payload_bytes=60_000) as server:
        settings = make_settings(tmp_path, SEEDS_DIR, chroma_url=server.url)
        index = VectorIndex(
            connect(settings.chroma()), settings.collection, location_of(settings.chroma())
        )
        requests: list[int] = []
        upsert = index._upsert_request

        def counted(batch, vectors, metadatas):  # type: ignore[no-untyped-def]
            requests.append(len(batch))
            upsert(batch, vectors, metadatas)

        monkeypatch.setattr(index, "_upsert_request", counted)
        # A budget far over the server's limit: every first request is refused.
        index._request_budget = 10_000_000
        index.add(records, lambda texts: [[1.0, float(len(text))] for text in texts])
        assert index.ids() == {record.passage_id for record in records}
        assert requests[0] == len(records)  # refused, then split
        assert index._request_budget is not None and index._request_budget < 1_000_000

        huge = dataclasses.replace(records[0], passage_id="huge", text="ت" * 40_000)
        with pytest.raises(BackendError) as refused:
            index.add([huge], lambda texts: [[1.0, 2.0] for _ in texts])
        message = str(refused.value)
        assert "refuses even one passage" in message and "max_payload_size_bytes" in message
        assert "free some space" not in message


def sentence_spans(record):  # type: ignore[no-untyped-def]
    from rag.store.index import NewsIndex

    return NewsIndex._sentences(record)


def settings_in(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path, corpus: Path
) -> Settings:
    """Settings for an embedded store, or for a collection of its own on the Chroma server."""
    overrides: dict[str, object] = {}
    if mode == "server":
        server: ChromaServer = request.getfixturevalue("chroma_server")
        overrides = {"chroma_url": server.url, "collection": unique_collection()}
    return make_settings(tmp_path, corpus, **overrides)


@pytest.mark.parametrize("mode", ["embedded", pytest.param("server", marks=pytest.mark.slow)])
def test_a_passage_is_stored_with_its_sentences_and_deleted_with_them(
    request: pytest.FixtureRequest, tmp_path: Path, corpus: Path, mode: str
) -> None:
    settings = settings_in(mode, request, tmp_path, corpus)
    records = seed_records(settings)
    index = VectorIndex(
        connect(settings.chroma()), settings.collection, location_of(settings.chroma())
    )

    def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0, float(len(text))] for text in texts]

    index.add(records, embed, sentences=sentence_spans)
    first = records[0]
    spans = sentence_spans(first)
    stored = index.sentence_vectors([first.passage_id])
    assert set(stored) == {(first.passage_id, span.start) for span in spans}
    lengths = [float(stored[(first.passage_id, s.start)][1]) for s in spans]
    assert lengths == pytest.approx([len(s.text) for s in spans])
    hits = index.query_sentences([1.0, float(len(spans[0].text))], 3, first.language)
    assert hits and all(passage_id in index.ids() for passage_id, _, _ in hits)

    index.delete([first.passage_id])
    assert index.sentence_vectors([first.passage_id]) == {}
    assert index.sentence_vectors([records[1].passage_id])  # the others stay


class CountingModel:
    """A model embedding as far as the index can tell (the hashing one underneath) that
    counts what it embeds, and raises KeyboardInterrupt on its `fail_on_call`th call."""

    by_meaning = True
    model_name = "counting-model"

    def __init__(self, settings: Settings, fail_on_call: int | None = None) -> None:
        from rag.backends.embedding import make_embedding

        self.inner: Any = make_embedding(settings.embedding())
        self.embedded: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def class_name(self) -> str:
        return "CountingModel"

    def vectors(self, texts: list[str]) -> object:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.embedded += texts
        return self.inner.vectors(texts)


def test_sentences_of_passages_stored_before_are_embedded_once_by_the_next_ingest(
    tmp_path: Path, corpus: Path
) -> None:
    """An index from before sentence vectors were kept gets them at its next ingest, and
    only once: the passages themselves are not embedded again."""
    settings = make_settings(tmp_path, corpus, embedding_provider="hashing")
    engine = Engine(settings)
    engine.ingest()  # the hashing embedding keeps no sentence vectors
    vectors = engine.index.vector
    assert vectors.sentence_vectors([r.passage_id for r in engine.index.snapshot().records]) == {}

    model = CountingModel(settings)
    engine.index.embedding = model  # type: ignore[assignment]
    engine.ingest()
    records = engine.index.snapshot().records
    sentences = [span.text for record in records for span in sentence_spans(record)]
    # The sentences, no passage; one repeated in the overlap of two passages, once.
    assert set(model.embedded) == set(sentences) and len(set(model.embedded)) == len(model.embedded)
    assert len(sentences) > len(set(sentences))
    stored = engine.index.vector.sentence_vectors([r.passage_id for r in records])
    assert len(stored) == len(sentences)
    model.embedded.clear()
    engine.ingest()
    assert model.embedded == []


def test_an_interrupted_first_ingest_keeps_its_sentences_and_the_next_embeds_only_the_rest(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sentences are stored before their passage, so an ingest stopped part-way leaves
    every stored passage with its sentences: the next one must not drop them and embed
    them again (it did, when the store was marked complete only at an ingest's end)."""
    from rag.store import index as index_module

    monkeypatch.setattr(index_module, "MODEL_EMBED_BATCH", 2)
    settings = make_settings(tmp_path, corpus, embedding_provider="hashing")
    engine = Engine(settings)

    engine.index.embedding = CountingModel(settings, fail_on_call=3)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        engine.ingest()
    vectors = engine.index.vector
    stored = vectors.ids()
    assert stored
    kept = vectors.sentence_vectors(sorted(stored))
    assert kept  # the stored passages' sentences

    model = CountingModel(settings)
    engine.index.embedding = model  # type: ignore[assignment]
    engine.ingest()
    records = engine.index.snapshot().records
    left = [r for r in records if r.passage_id not in stored]
    assert left
    expected = {r.text for r in left} | {s.text for r in left for s in sentence_spans(r)}
    assert set(model.embedded) == expected
    # (The view opened before this ingest published is stale; the index opens a new one.)
    after = engine.index.vector.sentence_vectors([r.passage_id for r in records])
    assert set(kept) <= set(after)


def test_a_rebuild_that_drops_old_sentences_and_is_interrupted_leaves_them_to_the_next(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild replaces stored passages that have no sentences yet: stopped part-way,
    the store must still say so, so that the next ingest embeds the missing ones."""
    from rag.store import index as index_module

    monkeypatch.setattr(index_module, "MODEL_EMBED_BATCH", 2)
    settings = make_settings(tmp_path, corpus, embedding_provider="hashing")
    engine = Engine(settings)
    engine.ingest()  # passages without sentence vectors
    engine.index.embedding = CountingModel(settings, fail_on_call=3)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        engine.ingest(rebuild=True)

    engine.index.embedding = CountingModel(settings)  # type: ignore[assignment]
    engine.ingest()
    records = engine.index.snapshot().records
    stored = engine.index.vector.sentence_vectors([r.passage_id for r in records])
    assert set(stored) == {(r.passage_id, s.start) for r in records for s in sentence_spans(r)}


def test_a_passage_whose_language_changes_keeps_its_vectors_and_its_sentences_follow(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new version that tells a passage's language otherwise re-reads every article but
    embeds nothing again: the passage's and its sentences' stored language follow, which
    the search filtered by language reads."""
    from rag.store import ingest as ingest_module

    settings = make_settings(tmp_path, corpus, embedding_provider="hashing")
    engine = Engine(settings)
    model = CountingModel(settings)
    engine.index.embedding = model  # type: ignore[assignment]
    engine.ingest()
    english = [r for r in engine.index.snapshot().records if r.language == "en"]
    assert english
    spans = sentence_spans(english[0])
    vector = model.inner.vectors([spans[0].text])[0].tolist()
    assert not any(h[0] == english[0].passage_id for h in _sentence_hits(engine, vector, "fr"))

    monkeypatch.setattr(ingest_module, "PIPELINE_VERSION", "relabel-test")
    monkeypatch.setattr(
        ingest_module,
        "passage_language",
        lambda text, article_language: "fr" if article_language == "en" else article_language,
    )
    model.embedded.clear()
    engine.ingest()
    assert model.embedded == []
    relabelled = engine.index.snapshot().records
    assert {r.language for r in relabelled if r.passage_id == english[0].passage_id} == {"fr"}
    assert any(h[0] == english[0].passage_id for h in _sentence_hits(engine, vector, "fr"))


def _sentence_hits(
    engine: Engine, vector: list[float], language: str
) -> list[tuple[str, int, float]]:
    return engine.index.vector.query_sentences(vector, 200, language)


def _search_beams(settings: Settings) -> list[int]:
    client = connect(settings.chroma())
    names = [settings.collection, settings.collection + SENTENCES_SUFFIX]
    collections = [c for c in client.list_collections() if c.name in names]
    return [int(c.configuration_json["hnsw"]["ef_search"]) for c in collections]


@pytest.mark.parametrize("mode", ["embedded", pytest.param("server", marks=pytest.mark.slow)])
def test_collections_search_with_the_wide_beam_and_an_old_one_is_widened(
    request: pytest.FixtureRequest, tmp_path: Path, corpus: Path, mode: str
) -> None:
    # With Chroma's default beam, searches over the sentences missed some of the nearest,
    # a different few in each process: a question could be answered or refused by chance.
    settings = settings_in(mode, request, tmp_path, corpus)
    index = VectorIndex(
        connect(settings.chroma()), settings.collection, location_of(settings.chroma())
    )
    index.add(
        seed_records(settings), lambda texts: [[1.0, 2.0]] * len(texts), sentences=sentence_spans
    )
    assert _search_beams(settings) == [HNSW_EF_SEARCH, HNSW_EF_SEARCH]
    client = connect(settings.chroma())
    for name in (settings.collection, settings.collection + SENTENCES_SUFFIX):
        client.get_collection(name, embedding_function=None).modify(
            configuration={"hnsw": {"ef_search": 100}}
        )
    assert _search_beams(settings) == [100, 100]  # as an index made before the wide beam
    index.ensure_search_beam()
    assert _search_beams(settings) == [HNSW_EF_SEARCH, HNSW_EF_SEARCH]


def test_an_ingest_widens_an_old_search_beam(settings: Settings) -> None:
    Engine(settings).ingest()
    client = connect(settings.chroma())
    client.get_collection(settings.collection, embedding_function=None).modify(
        configuration={"hnsw": {"ef_search": 100}}
    )
    Engine(settings).ingest()  # nothing to add: it still widens the beam
    assert _search_beams(settings) == [HNSW_EF_SEARCH]


def test_a_text_repeated_in_a_batch_is_embedded_once_and_stored_everywhere(
    tmp_path: Path, corpus: Path
) -> None:
    settings = make_settings(tmp_path, corpus)
    records = seed_records(settings)[:4]
    twin = dataclasses.replace(records[1], passage_id="twin", text=records[0].text)
    records = [*records, twin]
    index = VectorIndex(
        connect(settings.chroma()), settings.collection, location_of(settings.chroma())
    )
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[1.0, float(len(text)), float(sum(map(ord, text)) % 997)] for text in texts]

    index.add(records, embed, sentences=sentence_spans)
    embedded = [text for call in calls for text in call]
    assert len(embedded) == len(set(embedded))
    spans = [span for record in records for span in sentence_spans(record)]
    assert set(embedded) == {r.text for r in records} | {span.text for span in spans}
    stored = index.sentence_vectors([r.passage_id for r in records])
    assert len(stored) == len({(r.passage_id, s.start) for r in records for s in sentence_spans(r)})
    for record in records:
        for span in sentence_spans(record):
            assert list(stored[(record.passage_id, span.start)]) == pytest.approx(
                embed([span.text])[0]
            )
    twins = {passage for passage, _ in index.query(embed([records[0].text])[0], 2)}
    assert twins == {records[0].passage_id, "twin"}
