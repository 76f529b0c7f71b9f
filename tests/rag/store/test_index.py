"""NewsIndex under concurrency and faults, over the embedded store and a real `chroma run`.

Other processes are real: an ingest paused at a progress stage (tests/ingest_driver.py)
then resumed or SIGKILLed, and long-lived `newsbot ask --json -` readers. In server mode
each simulated machine has its own data dir and shares only the Chroma server.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag.engine import Engine
from rag.errors import (
    BackendError,
    BadInputError,
    ConfigError,
    IndexUnavailableError,
    IngestBusyError,
    NewsbotError,
)
from rag.models import Answer, IngestReport
from rag.settings import Settings
from rag.store.catalogue import LocalCatalogue
from rag.store.index import NewsIndex
from rag.store.lexical import LexicalIndex
from rag.store.vectors import MODEL_EMBED_BATCH, VectorStoreUnusable, connect
from tests.chroma_server import ChromaServer, free_port
from tests.conftest import (
    DAMAGED_PAGES,
    ENGLISH_SEED,
    FRENCH_SEED,
    cli_env,
    damage_chroma_store,
    make_settings,
    run_newsbot,
    unique_collection,
)
from tests.processes import AskProcess, IngestProcess

QUOKKA_QUESTION = "Where was the quokka seen?"
FRENCH_QUESTION = "Qu’a dit Mike Pompeo sur les éditeurs de logiciels chinois ?"
ENGLISH_QUESTION = "What did Microsoft promise about data storage?"


@dataclass
class Store:
    """Settings for processes sharing one index: one data dir per machine in server mode."""

    tmp_path: Path
    corpus: Path
    extra: dict[str, str]

    def data_dir(self, machine: str) -> Path:
        server = "NEWSBOT_CHROMA_URL" in self.extra
        return self.tmp_path / (f"data-{machine}" if server else "data")

    def settings(self, machine: str = "a") -> Settings:
        values = {key.removeprefix("NEWSBOT_").lower(): value for key, value in self.extra.items()}
        return make_settings(self.tmp_path, self.corpus, data_dir=self.data_dir(machine), **values)

    def env(self, machine: str = "a") -> dict[str, str]:
        env = cli_env(self.tmp_path, self.corpus, **self.extra)
        env["NEWSBOT_DATA_DIR"] = str(self.data_dir(machine))
        return env


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path, corpus: Path) -> Iterator[Store]:
    if request.param == "server":
        yield request.getfixturevalue("server_store")
    else:
        yield Store(tmp_path, corpus, {})


@pytest.fixture
def server_store(tmp_path: Path, corpus: Path, chroma_server: ChromaServer) -> Store:
    """Machines sharing the session's `chroma run` server, in a collection of their own."""
    server = {"NEWSBOT_CHROMA_URL": chroma_server.url, "NEWSBOT_COLLECTION": unique_collection()}
    return Store(tmp_path, corpus, server)


def sources(answer: Answer | dict[str, Any]) -> set[str]:
    """The files an answer cites (an Answer, or its JSON from `newsbot ask --json`)."""
    if isinstance(answer, Answer):
        return {citation.source for citation in answer.citations}
    assert "error" not in answer, answer
    return {citation["source"] for citation in answer["citations"]}


def change_corpus(corpus: Path) -> None:
    """Drop the French article and add one about a quokka."""
    (corpus / FRENCH_SEED).unlink()
    (corpus / "quokka.txt").write_text(
        "Quokka news\nA quokka was seen in Perth, near the river, on Tuesday.", encoding="utf-8"
    )


def assert_old_state(engine: Engine) -> None:
    assert "quokka.txt" not in sources(engine.reply(QUOKKA_QUESTION).answer)
    assert FRENCH_SEED in sources(engine.reply(FRENCH_QUESTION).answer)
    assert len(engine.articles()) == 5


def assert_new_state(engine: Engine) -> None:
    assert "quokka.txt" in sources(engine.reply(QUOKKA_QUESTION).answer)
    assert FRENCH_SEED not in sources(engine.reply(FRENCH_QUESTION).answer)
    assert {a.source for a in engine.articles()} == {
        *(p.name for p in engine.settings.corpus_dir.iterdir())
    }


def assert_vectors_match_catalogue(engine: Engine) -> None:
    """Every passage of the snapshot has its vector, and no other vector is left."""
    wanted = {record.passage_id for record in engine.index.snapshot().records}
    assert engine.index.vector.ids() == wanted


class Hammer:
    """Questions asked in a loop from another thread until stopped; errors are kept."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.asked = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        questions = [ENGLISH_QUESTION, QUOKKA_QUESTION, FRENCH_QUESTION]
        while not self._stop.is_set():
            try:
                _ = self.engine.reply(questions[self.asked % len(questions)]).answer
            except Exception as exc:
                self.errors.append(exc)
            self.asked += 1

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.mark.slow
class TestServerMode:
    def test_ingest_ask_from_a_second_process_then_delete(
        self, server_store: Store, corpus: Path
    ) -> None:
        store = server_store
        writer = Engine(store.settings("a"))
        assert writer.ingest().added == 5
        with AskProcess(store.env("b")) as reader:
            assert ENGLISH_SEED in sources(reader.ask(ENGLISH_QUESTION))
            (corpus / ENGLISH_SEED).unlink()
            assert writer.ingest().removed == 1
            assert ENGLISH_SEED not in sources(writer.reply(ENGLISH_QUESTION).answer)
            assert ENGLISH_SEED not in sources(reader.ask(ENGLISH_QUESTION))
        listed = run_newsbot("sources", "--json", env=store.env("c"))
        assert ENGLISH_SEED not in listed.stdout.decode() and FRENCH_SEED in listed.stdout.decode()
        assert_vectors_match_catalogue(writer)
        assert not store.data_dir("a").joinpath("chroma").exists()

    def test_answers_are_the_same_as_with_the_embedded_store(
        self, tmp_path: Path, corpus: Path, chroma_server: ChromaServer
    ) -> None:
        embedded = Engine(make_settings(tmp_path, corpus, data_dir=tmp_path / "embedded"))
        server = Engine(
            make_settings(
                tmp_path,
                corpus,
                data_dir=tmp_path / "server",
                chroma_url=chroma_server.url,
                collection=unique_collection(),
            )
        )
        embedded.ingest()
        server.ingest()
        reader = Engine(server.settings.model_copy(update={"data_dir": tmp_path / "other"}))
        for question in [ENGLISH_QUESTION, FRENCH_QUESTION, "لماذا تراجعت أمازون عن حظر تيك توك؟"]:
            expected = embedded.reply(question).answer.model_dump()
            assert server.reply(question).answer.model_dump() == expected
            assert reader.reply(question).answer.model_dump() == expected
        # Rebuilt from the server's records: the same passages, words and terms, so the same
        # term and n-gram indexes.
        assert reader.index.snapshot().records == embedded.index.snapshot().records

    def test_passages_missing_from_the_server_say_rebuild(
        self, server_store: Store, corpus: Path
    ) -> None:
        store = server_store
        writer = Engine(store.settings("a"))
        writer.ingest()
        writer.index.vector.delete([writer.index.snapshot().records[0].passage_id])
        with pytest.raises(IndexUnavailableError, match=r"is missing.*ingest --rebuild"):
            _ = Engine(store.settings("b")).reply(ENGLISH_QUESTION).answer
        assert writer.ingest(rebuild=True).passages == len(writer.index.snapshot().records)
        assert ENGLISH_SEED in sources(Engine(store.settings("b")).reply(ENGLISH_QUESTION).answer)

    def test_server_down_at_start_is_one_line_naming_the_url(self, tmp_path: Path) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        env = cli_env(tmp_path, NEWSBOT_CHROMA_URL=url)
        result = run_newsbot("ask", "Who wants to buy TikTok?", env=env)
        lines = result.stderr.decode().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("newsbot: error: cannot reach the Chroma server at " + url)
        assert "connection refused" in lines[0]

    def test_server_going_away_and_coming_back(self, tmp_path: Path, corpus: Path) -> None:
        with ChromaServer(tmp_path / "own-server") as server:
            store = Store(tmp_path, corpus, {"NEWSBOT_CHROMA_URL": server.url})
            engine = Engine(store.settings("a"))
            engine.ingest()
            with AskProcess(store.env("b")) as reader:
                assert not reader.ask(ENGLISH_QUESTION)["abstained"]
                server.kill()
                failed = reader.ask(ENGLISH_QUESTION)
                assert failed["error"].startswith(f"cannot reach the Chroma server at {server.url}")
                with pytest.raises(BackendError, match="cannot reach the Chroma server"):
                    _ = engine.reply(ENGLISH_QUESTION).answer
                server.start()
                assert ENGLISH_SEED in sources(reader.ask(ENGLISH_QUESTION))
                assert ENGLISH_SEED in sources(engine.reply(ENGLISH_QUESTION).answer)


@pytest.mark.slow
class TestIngestWhileServing:
    def test_readers_see_the_old_index_until_it_is_published(
        self, store: Store, corpus: Path
    ) -> None:
        Engine(store.settings("a")).ingest()
        reader = Engine(store.settings("b"))
        assert_old_state(reader)
        change_corpus(corpus)
        with (
            Hammer(Engine(store.settings("b"))) as hammer,
            IngestProcess(store.env("a"), pause_at=["embed", "delete"]) as ingest,
        ):
            ingest.wait_paused("embed")  # new vectors stored, nothing published
            assert_old_state(reader)
            ingest.resume()
            ingest.wait_paused("delete")  # published, stale vectors still there
            assert_new_state(reader)
            ingest.resume()
            assert ingest.result()["event"] == "done"
        assert hammer.errors == [] and hammer.asked > 0
        assert_new_state(reader)
        assert_vectors_match_catalogue(reader)
        quokka = next(r for r in reader.index.snapshot().records if r.source == "quokka.txt")
        nearest = reader.index.vector.query(
            reader.index.embedding.get_query_embedding(quokka.text), 3
        )
        assert quokka.passage_id in [passage_id for passage_id, _ in nearest]

    def test_answers_by_words_only_while_an_ingest_writes_the_store_say_so(
        self, tmp_path: Path, corpus: Path
    ) -> None:
        settings = make_settings(tmp_path, corpus, vector_weight=1.0)
        Engine(settings).ingest()
        change_corpus(corpus)
        env = cli_env(tmp_path, corpus, NEWSBOT_VECTOR_WEIGHT="1")
        with IngestProcess(env, pause_at=["embed"]) as ingest:
            ingest.wait_paused("embed")  # the ingest holds the embedded store
            during = Engine(settings).reply(ENGLISH_QUESTION).answer
            ingest.resume()
            assert ingest.result()["event"] == "done"
        assert (
            f"An ingest is writing the Chroma store in {settings.chroma_dir()}, so questions are "
            "matched by their words only until it has finished."
        ) in during.notices
        assert not any(
            "ingest is writing" in n
            for n in Engine(settings).reply(ENGLISH_QUESTION).answer.notices
        )

    @pytest.mark.parametrize("stage", ["embed", "delete"])
    def test_sigkill_half_way_then_rerun(self, store: Store, corpus: Path, stage: str) -> None:
        Engine(store.settings("a")).ingest()
        change_corpus(corpus)
        with IngestProcess(store.env("a"), pause_at=[stage]) as ingest:
            ingest.wait_paused(stage)
            ingest.kill()
        survivor = Engine(store.settings("b"))
        if stage == "embed":
            assert_old_state(survivor)
        else:
            assert_new_state(survivor)
        rerun = Engine(store.settings("a")).ingest()
        assert rerun.passages == len(survivor.index.snapshot().records)
        assert (rerun.added, rerun.removed) == ((1, 1) if stage == "embed" else (0, 0))
        assert_new_state(survivor)
        assert_vectors_match_catalogue(survivor)
        leftovers = [p.name for p in store.settings("a").lexical_dir().glob(".*")]
        assert leftovers == []

    def test_two_ingests_at_once(self, store: Store) -> None:
        with IngestProcess(store.env("a"), pause_at=["embed"]) as first:
            first.wait_paused("embed")
            with pytest.raises(IngestBusyError) as refused:
                Engine(store.settings("b")).ingest()
            assert str(refused.value).startswith(f"another ingest (pid {first.process.pid}")
            first.resume()
            assert first.result()["event"] == "done"
        again = Engine(store.settings("b")).ingest()
        assert (again.added, again.unchanged) == (0, 5)

    def test_an_ingest_keeps_what_another_process_ingested_before_it(
        self, tmp_path: Path, corpus: Path
    ) -> None:
        """A long-lived process that ingests again must not save its stale view of Chroma
        over what another process added meanwhile."""
        settings = make_settings(tmp_path, corpus)
        # Chroma keeps small batches in its log, which every process reads; make it write
        # the HNSW files at every add, as it does for large ingests.
        connect(settings.chroma()).create_collection(
            settings.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "batch_size": 2, "sync_threshold": 2}},
        )
        repl = Engine(settings)
        repl.ingest()
        _ = repl.reply(ENGLISH_QUESTION).answer
        change_corpus(corpus)
        with IngestProcess(cli_env(tmp_path, corpus)) as other:
            assert other.result()["report"]["added"] == 1
        (corpus / "otter.txt").write_text("Otter news\nAn otter swam in Oslo.", encoding="utf-8")
        assert repl.ingest().added == 1
        fresh = Engine(settings)
        embed = fresh.index.embedding.get_query_embedding
        for record in fresh.index.snapshot().records:
            nearest = fresh.index.vector.query(embed(record.text), 1)
            assert nearest[0][0] == record.passage_id, record.source

    def test_rebuild_while_serving_keeps_answering(self, store: Store) -> None:
        Engine(store.settings("a")).ingest()
        reader = Engine(store.settings("b"))
        paused, go = threading.Event(), threading.Event()
        reports: list[IngestReport] = []

        def pause_once_embedded(stage: str, done: int, total: int) -> None:
            if stage == "embed" and not paused.is_set():
                paused.set()
                go.wait(timeout=120)

        rebuild = threading.Thread(
            target=lambda: reports.append(
                Engine(store.settings("a")).ingest(rebuild=True, progress=pause_once_embedded)
            )
        )
        rebuild.start()
        try:
            assert paused.wait(timeout=120)
            assert_old_state(reader)
        finally:
            go.set()
            rebuild.join(timeout=120)
        assert reports[0].added == 5
        assert_old_state(reader)
        assert_vectors_match_catalogue(reader)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs to fill up or turn read-only (needs root and CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-R", "-l", str(mount_point)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        while True:
            try:
                out.write(b"\0" * (1 << 20))
                out.flush()
            except OSError:
                break
    return filler


class TestWriteFailures:
    def test_disk_full_during_ingest(self, small_disk: Path, corpus: Path, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, corpus, data_dir=small_disk / "data")
        Engine(settings).ingest()
        change_corpus(corpus)
        filled: list[Path] = []

        def fill_when_read(stage: str, done: int, total: int) -> None:
            if stage == "read" and done == total and not filled:
                filled.append(fill(small_disk))

        with pytest.raises(NewsbotError) as failure:
            Engine(settings).ingest(progress=fill_when_read)
        message = str(failure.value)
        assert "the previous index is unchanged" in message and "\n" not in message
        filled[0].unlink()
        survivor = Engine(settings)
        assert_old_state(survivor)
        assert Engine(settings).ingest().added == 1
        assert_new_state(Engine(settings))

    def test_data_dir_turning_read_only_during_ingest(
        self, small_disk: Path, corpus: Path, tmp_path: Path
    ) -> None:
        data_dir = small_disk / "data"
        settings = make_settings(tmp_path, corpus, data_dir=data_dir)
        Engine(settings).ingest()
        change_corpus(corpus)

        def read_only_when_read(stage: str, done: int, total: int) -> None:
            if stage == "read" and done == total:
                # A read-only mount over the data dir: what is opened from now on fails.
                subprocess.run(["mount", "--bind", str(data_dir), str(data_dir)], check=True)
                subprocess.run(["mount", "-o", "remount,bind,ro", str(data_dir)], check=True)

        with pytest.raises(NewsbotError) as failure:
            Engine(settings).ingest(progress=read_only_when_read)
        message = str(failure.value)
        assert "the previous index is unchanged" in message and "\n" not in message
        with pytest.raises(IndexUnavailableError, match="NEWSBOT_DATA_DIR"):
            Engine(settings).ingest()
        subprocess.run(["umount", "-l", str(data_dir)], check=True)
        assert_old_state(Engine(settings))
        assert Engine(settings).ingest().added == 1
        assert_new_state(Engine(settings))

    def test_a_full_disk_is_named_and_is_not_taken_for_damage(
        self, small_disk: Path, corpus: Path, tmp_path: Path
    ) -> None:
        settings = make_settings(tmp_path, corpus, data_dir=small_disk / "data", vector_weight=1.0)
        Engine(settings).ingest()
        filler = fill(small_disk)
        with pytest.raises(IndexUnavailableError) as asking:
            _ = Engine(settings).reply(ENGLISH_QUESTION).answer
        with pytest.raises(IndexUnavailableError) as ingesting:
            Engine(settings).ingest(rebuild=True)
        assert str(asking.value) == (
            f"the disk holding the Chroma store in {settings.chroma_dir()} is full (database or "
            "disk is full); free some space, then try again"
        )
        assert str(ingesting.value) == (
            f"the disk holding the data directory {settings.data_dir} is full (No space left on "
            "device); nothing was changed; free some space, then run the ingest again"
        )
        assert sorted(p.name for p in settings.data_dir.iterdir()) == [
            ".ingest.lock",
            ".vectors.lock",
            "chroma",
            "lexical",
        ]
        filler.unlink()
        assert_old_state(Engine(settings))

    def test_a_read_only_store_is_named_and_is_not_taken_for_damage(
        self, small_disk: Path, corpus: Path, tmp_path: Path
    ) -> None:
        data_dir = small_disk / "data"
        settings = make_settings(tmp_path, corpus, data_dir=data_dir, vector_weight=1.0)
        Engine(settings).ingest()
        subprocess.run(["mount", "--bind", str(data_dir), str(data_dir)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(data_dir)], check=True)
        try:
            with pytest.raises(IndexUnavailableError) as asking:
                _ = Engine(settings).reply(ENGLISH_QUESTION).answer
        finally:
            subprocess.run(["umount", "-l", str(data_dir)], check=True)
        assert str(asking.value) == (
            f"the Chroma store in {settings.chroma_dir()} is read-only (readonly database); make "
            "it writable, or set NEWSBOT_DATA_DIR to a writable folder, then try again"
        )
        assert_old_state(Engine(settings))


class TestDamagedStore:
    """A Chroma store whose database is damaged: one line that names it and the command,
    and a rebuild that moves it aside (never deletes it) and builds a new one."""

    @pytest.mark.parametrize("page", DAMAGED_PAGES)
    def test_a_rebuild_sets_the_damaged_store_aside(
        self, tmp_path: Path, corpus: Path, page: int
    ) -> None:
        settings = make_settings(tmp_path, corpus, vector_weight=1.0)
        Engine(settings).ingest()
        garbage = damage_chroma_store(settings.data_dir, page)
        for attempt in (
            lambda: Engine(settings).reply(ENGLISH_QUESTION).answer,
            Engine(settings).ingest,
        ):
            with pytest.raises(VectorStoreUnusable, match=r"is damaged .*ingest --rebuild`$"):
                attempt()

        report = Engine(settings).ingest(rebuild=True)
        [aside] = [p for p in settings.data_dir.iterdir() if p.name.startswith("chroma.damaged-")]
        # Moved as it was, damage and all.
        assert garbage in (aside / "chroma.sqlite3").read_bytes()
        [notice] = report.notices
        assert notice.startswith(f"the Chroma store in {settings.chroma_dir()} could not be read (")
        assert f"it was moved to {aside} (remove it once" in notice
        engine = Engine(settings)
        assert_old_state(engine)
        assert_vectors_match_catalogue(engine)
        assert Engine(settings).ingest().notices == []


def article_folder(root: Path, name: str, *stories: str) -> Path:
    """A folder `name` under `root` holding one article per story."""
    folder = root / name
    folder.mkdir()
    for number, story in enumerate(stories):
        (folder / f"story{'' if number == 0 else number}.txt").write_text(
            f"{name} news\n\n{story}\n", encoding="utf-8"
        )
    return folder


class TestRememberedPaths:
    """An ingest without paths reads the paths the index was built from, never the corpus dir
    over them; a path that is gone stops a rebuild unless the user forgets it."""

    @pytest.fixture
    def two_ingests(self, tmp_path: Path, corpus: Path) -> tuple[Settings, Path, Path]:
        """An index of two folders, ingested one after the other; the corpus dir is the
        seeds, never ingested."""
        x = article_folder(tmp_path, "x", "The mayor of Xville opened a bridge.", "Rain fell.")
        y = article_folder(tmp_path, "y", "The mayor of Yburg closed a bridge.")
        settings = make_settings(tmp_path, corpus)
        engine = Engine(settings)
        engine.ingest([x])
        engine.ingest([y])
        return settings, x, y

    @staticmethod
    def listing(settings: Settings) -> list[tuple[str, str]]:
        return [(a.source, a.path) for a in Engine(settings).articles()]

    @pytest.mark.parametrize("rebuild", [False, True])
    def test_an_ingest_without_paths_reads_the_paths_it_was_built_from(
        self, two_ingests: tuple[Settings, Path, Path], rebuild: bool
    ) -> None:
        settings, x, _ = two_ingests
        before = self.listing(settings)
        assert len(before) == 3
        (x / "story2.txt").write_text("x news\n\nSnow fell.\n", encoding="utf-8")
        report = Engine(settings).ingest(rebuild=rebuild)
        assert (report.articles, report.notices) == (4, [])
        assert self.listing(settings) == sorted([*before, ("story2.txt", str(x / "story2.txt"))])

    def test_a_rebuild_stops_when_a_path_is_gone_unless_it_is_forgotten(
        self, two_ingests: tuple[Settings, Path, Path]
    ) -> None:
        settings, x, y = two_ingests
        before = self.listing(settings)
        x.rename(x.with_name("x-moved"))
        with pytest.raises(BadInputError) as refused:
            Engine(settings).ingest(rebuild=True)
        assert str(refused.value) == (
            f"{x} is gone, and the index holds 2 articles from there; a rebuild would drop "
            "them, so nothing was changed. Put it back, or to rebuild without them run "
            "`newsbot ingest --rebuild --forget-missing`"
        )
        assert self.listing(settings) == before

        kept = Engine(settings).ingest()
        assert kept.notices == [
            f"{x} is gone: its 2 indexed articles are kept; `newsbot ingest --forget-missing` "
            "drops them"
        ]
        assert self.listing(settings) == before

        forgotten = Engine(settings).ingest(rebuild=True, forget_missing=True)
        assert forgotten.notices == [f"{x} is gone: its 2 articles were dropped from the index"]
        assert self.listing(settings) == [("story.txt", str(y / "story.txt"))]

    def test_forgetting_without_a_rebuild_drops_the_gone_paths_articles(
        self, two_ingests: tuple[Settings, Path, Path]
    ) -> None:
        settings, _, y = two_ingests
        shutil.rmtree(y)
        report = Engine(settings).ingest(forget_missing=True)
        assert (report.removed, report.articles) == (1, 2)
        assert [source for source, _ in self.listing(settings)] == ["story.txt", "story1.txt"]
        assert_vectors_match_catalogue(Engine(settings))

    def test_when_every_path_is_gone_the_user_names_the_paths(
        self, two_ingests: tuple[Settings, Path, Path]
    ) -> None:
        settings, x, y = two_ingests
        shutil.rmtree(x)
        shutil.rmtree(y)
        with pytest.raises(BadInputError, match=r"every path the index was built from is gone"):
            Engine(settings).ingest(rebuild=True, forget_missing=True)
        assert len(self.listing(settings)) == 3

    def test_a_lost_lexical_index_is_rebuilt_from_the_paths_the_vectors_remember(
        self, two_ingests: tuple[Settings, Path, Path]
    ) -> None:
        settings, _, _ = two_ingests
        before = self.listing(settings)
        shutil.rmtree(settings.lexical_dir())
        with pytest.raises(IndexUnavailableError, match=r"ingest --rebuild`$"):
            Engine(settings).has_index()
        assert Engine(settings).ingest(rebuild=True).articles == 3
        assert self.listing(settings) == before

    def test_a_damaged_chroma_store_is_rebuilt_from_the_paths_the_snapshot_remembers(
        self, two_ingests: tuple[Settings, Path, Path]
    ) -> None:
        settings, _, _ = two_ingests
        before = self.listing(settings)
        damage_chroma_store(settings.data_dir, page=10)
        report = Engine(settings).ingest(rebuild=True)
        assert report.articles == 3 and len(report.notices) == 1
        assert self.listing(settings) == before

    def test_an_index_without_roots_names_the_command_to_run(
        self, tmp_path: Path, corpus: Path
    ) -> None:
        settings = make_settings(tmp_path, corpus)
        engine = Engine(settings)
        engine.ingest()
        # As an older newsbot wrote it: passages without the path they were ingested from
        # (which its articles' hashes did not cover).
        old = [
            dataclasses.replace(record, root="", name="", doc_hash=f"old-{record.doc_hash}")
            for record in engine.index.snapshot().records
        ]
        LocalCatalogue(settings.lexical_dir()).publish(
            LexicalIndex.build(old, embedding=engine.index.embedding_name)
        )
        with pytest.raises(IndexUnavailableError) as failure:
            Engine(settings).ingest(rebuild=True)
        assert str(failure.value) == (
            "the index was built by a version of newsbot that did not record the paths it "
            f"read; name them once, e.g. `newsbot ingest --rebuild {corpus}`"
        )
        assert Engine(settings).ingest([corpus]).articles == 5
        assert Engine(settings).ingest(rebuild=True).articles == 5

    def test_a_corpus_dir_that_does_not_exist_is_named(self, tmp_path: Path) -> None:
        engine = Engine(make_settings(tmp_path, tmp_path / "nowhere"))
        with pytest.raises(ConfigError) as failure:
            engine.ingest()
        assert str(failure.value) == (
            f"NEWSBOT_CORPUS_DIR is {tmp_path / 'nowhere'}: no such file or folder; set it to "
            "your articles' folder, or index one: `newsbot ingest PATH`"
        )
        assert not engine.has_index()


@pytest.mark.slow
def test_same_named_files_from_separate_ingests_are_told_apart_on_every_machine(
    server_store: Store, tmp_path: Path
) -> None:
    x = article_folder(tmp_path, "x", "The mayor of Xville opened a bridge on Monday.")
    y = article_folder(tmp_path, "y", "The mayor of Yburg closed a bridge on Tuesday.")
    writer = Engine(server_store.settings("a"))
    writer.ingest([x / "story.txt"])
    writer.ingest([y])
    writer.ingest([x])  # the same article, now found in its folder: its vectors stay
    for machine in ("a", "b"):
        engine = Engine(server_store.settings(machine))
        assert [(a.source, a.path) for a in engine.articles()] == [
            ("x/story.txt", str(x / "story.txt")),
            ("y/story.txt", str(y / "story.txt")),
        ]
        for town, source in (("Xville", "x/story.txt"), ("Yburg", "y/story.txt")):
            answer = engine.reply(f"What did the mayor of {town} do to the bridge?").answer
            assert sources(answer) == {source}
        # Machine b read the passages from the server: they say where they were found now.
        assert {record.root for record in engine.index.snapshot().records} == {f"{x}/", f"{y}/"}
    with pytest.raises(BadInputError, match="is gone"):
        shutil.rmtree(x)
        Engine(server_store.settings("b")).ingest(rebuild=True)


class TestWhatTheIndexAsksOfItsEmbedding:
    """Sentence vectors and small embedding steps for a model; the embedding's own batch
    path where it has one, else llama-index's batching."""

    def test_the_hashing_embedding(self, tmp_path: Path, corpus: Path) -> None:
        index = Engine(make_settings(tmp_path, corpus, embedding_provider="hashing")).index
        assert not index.keeps_sentences()
        assert index._embed_batch() is None
        assert index.batch_embedder() == index.embedding.vectors  # type: ignore[union-attr]

    def test_a_model_without_a_batch_path(self, tmp_path: Path, corpus: Path) -> None:
        from llama_index.core import MockEmbedding

        storage = make_settings(tmp_path, corpus).storage()
        index = NewsIndex(storage, MockEmbedding(embed_dim=8), "MockEmbedding:8")
        assert index.keeps_sentences()
        assert index._embed_batch() == MODEL_EMBED_BATCH
        assert index.batch_embedder() is None
        assert index._embed(["one", "two"]).shape == (2, 8)

    def test_no_embedding(self, tmp_path: Path, corpus: Path) -> None:
        index = NewsIndex(make_settings(tmp_path, corpus).storage(), None, "unavailable:x")
        assert not index.keeps_sentences()
        assert index.batch_embedder() is None


class _ReleasingModel:
    """A model embedding as far as the index can tell (the hashing embedding's vectors),
    counting the times it is asked to free its passage engine."""

    by_meaning = True

    def __init__(self, settings: Settings) -> None:
        from rag.backends.embedding import make_embedding

        self.inner = make_embedding(
            settings.model_copy(update={"embedding_provider": "hashing"}).embedding()
        )
        self.model_name = self.inner.model_name
        self.released = 0

    def class_name(self) -> str:
        return "ReleasingModel"

    def get_query_embedding(self, text: str) -> list[float]:
        return self.inner.get_query_embedding(text)  # type: ignore[no-any-return]

    def vectors(self, texts: list[str]) -> Any:
        return self.inner.vectors(texts)  # type: ignore[attr-defined]

    def release_memory(self) -> None:
        self.released += 1


def test_a_large_ingest_frees_the_embeddings_passage_engine_before_publishing(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.store.index as index_module

    settings = make_settings(tmp_path, corpus, embedding_provider="hashing")
    engine = Engine(settings)
    model = _ReleasingModel(settings)
    engine.index.embedding = model  # type: ignore[assignment]
    engine.ingest()
    passages = len(engine.index.snapshot())
    assert passages > 3 and model.released == 0  # fewer passages than the threshold
    monkeypatch.setattr(index_module, "RELEASE_AFTER_PASSAGES", passages)
    (corpus / "new.txt").write_text("A new article\n\nIt says one more thing.\n", encoding="utf-8")
    engine.ingest()
    assert model.released == 0  # one passage embedded: the engine is kept for the next
    engine.ingest(rebuild=True)
    assert model.released == 1
    assert engine.reply("What does the new article say?").passages
