"""Publishing the lexical snapshot and finding it again: in the data dir, or on a server."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.store.catalogue as catalogue_module
from rag.backends.embedding import embedding_id, make_embedding
from rag.settings import Settings
from rag.store.catalogue import CatalogueChanged, ChromaCatalogue, LocalCatalogue
from rag.store.ingest import plan_ingest
from rag.store.lexical import LexicalIndex, PassageRecord
from rag.store.vectors import VectorIndex, connect, location_of
from tests.chroma_server import ChromaServer
from tests.conftest import SEEDS_DIR, unique_collection


def seed_records() -> list[PassageRecord]:
    return plan_ingest([SEEDS_DIR], [], chunk_size=1000, chunk_overlap=150).records


def snapshot_of(records: list[PassageRecord]) -> LexicalIndex:
    return LexicalIndex.build(records, embedding="test-embedding")


def same_snapshot(a: LexicalIndex, b: LexicalIndex) -> bool:
    return (a.records, a.generation, a.embedding) == (b.records, b.generation, b.embedding)


class TestLocalCatalogue:
    def test_publish_then_load(self, tmp_path: Path) -> None:
        catalogue = LocalCatalogue(tmp_path / "lexical")
        assert catalogue.current() is None
        snapshot = snapshot_of(seed_records())
        token = catalogue.publish(snapshot)
        assert catalogue.current() == token
        assert same_snapshot(catalogue.load(token, None), snapshot)

    def test_an_older_token_is_gone_after_a_newer_publish(self, tmp_path: Path) -> None:
        catalogue = LocalCatalogue(tmp_path / "lexical")
        records = seed_records()
        old = catalogue.publish(snapshot_of(records))
        new = catalogue.publish(snapshot_of(records[:-1]))
        assert new != old and catalogue.current() == new
        with pytest.raises(FileNotFoundError):
            catalogue.load(old, None)


@pytest.fixture
def server_settings(tmp_path: Path, chroma_server: ChromaServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        chroma_url=chroma_server.url,
        collection=unique_collection(),
    )


def open_catalogue(settings: Settings, cache: Path) -> tuple[VectorIndex, ChromaCatalogue]:
    vectors = VectorIndex(
        connect(settings.chroma()), settings.collection, location_of(settings.chroma())
    )
    return vectors, ChromaCatalogue(vectors.client, vectors, settings.collection, cache)


Written = tuple[list[PassageRecord], VectorIndex, ChromaCatalogue]


@pytest.fixture
def written(server_settings: Settings, tmp_path: Path) -> Written:
    """The seeds' passages stored on the server, and the writer's catalogue."""
    records = seed_records()
    vectors, writer = open_catalogue(server_settings, tmp_path / "cache-a")
    vectors.add(records, make_embedding(server_settings.embedding()).get_text_embedding_batch)
    return records, vectors, writer


@pytest.mark.slow
class TestChromaCatalogue:
    def test_another_machine_rebuilds_the_same_snapshot(
        self,
        written: Written,
        server_settings: Settings,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(catalogue_module, "MANIFEST_PART", 7)  # several parts
        records, _, writer = written
        snapshot = LexicalIndex.build(
            records, embedding=embedding_id(make_embedding(server_settings.embedding()))
        )
        token = writer.publish(snapshot)
        _, reader = open_catalogue(server_settings, tmp_path / "cache-b")
        assert reader.current() == token
        rebuilt = reader.load(token, None)
        assert same_snapshot(rebuilt, snapshot)
        terms = ["microsoft", "tiktok"]
        assert rebuilt.search(terms, 5) == snapshot.search(terms, 5)

    def test_known_passages_and_the_local_copy_spare_fetching(
        self, written: Written, server_settings: Settings, tmp_path: Path
    ) -> None:
        records, vectors, writer = written
        snapshot = snapshot_of(records)
        token = writer.publish(snapshot)
        _, reader = open_catalogue(server_settings, tmp_path / "cache-b")
        reader.load(token, None)  # keeps a copy in cache-b
        vectors.delete([records[0].passage_id])  # now only copies know this passage
        assert same_snapshot(reader.load(token, snapshot), snapshot)
        _, restarted = open_catalogue(server_settings, tmp_path / "cache-b")
        assert same_snapshot(restarted.load(token, None), snapshot)
        _, stranger = open_catalogue(server_settings, tmp_path / "cache-c")
        with pytest.raises(CatalogueChanged):
            stranger.load(token, None)

    def test_a_replaced_manifest_is_a_change(
        self, written: Written, server_settings: Settings, tmp_path: Path
    ) -> None:
        records, _, writer = written
        old = writer.publish(snapshot_of(records))
        new = writer.publish(snapshot_of(records[1:]))
        assert new != old and writer.current() == new
        _, reader = open_catalogue(server_settings, tmp_path / "cache-b")
        with pytest.raises(CatalogueChanged):
            reader.load(old, None)
        assert same_snapshot(reader.load(new, None), snapshot_of(records[1:]))
