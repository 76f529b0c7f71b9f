"""The engine over real Chroma and bm25s indexes in a temporary data dir."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from rag.engine import Engine, clean_question
from rag.errors import BadInputError, IndexUnavailableError, IngestBusyError
from rag.index import LOCK_FILE
from rag.lexical import LexicalIndex
from tests.conftest import ARABIC_SEED, ENGLISH_SEED, FRENCH_SEED, SEEDS_DIR, make_settings


def cited_sources(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.source for c in answer.citations}


def assert_markers_valid(answer) -> None:  # type: ignore[no-untyped-def]
    import re

    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(set(numbers)) == [c.n for c in answer.citations]
    first_use = list(dict.fromkeys(numbers))
    assert first_use == sorted(first_use), "sources are numbered in order of first use"


class TestAsk:
    def test_english_data_storage(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.ask("What did Microsoft promise about data storage?")
        assert not answer.abstained
        assert cited_sources(answer) & {ENGLISH_SEED, FRENCH_SEED, "000_df82538c9e46931c.txt"}
        assert "United States" in answer.answer
        assert_markers_valid(answer)
        for citation in answer.citations:
            for start, end in citation.highlights:
                assert citation.text[start:end] in answer.answer

    def test_french_question(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.ask("Quand Microsoft espère-t-il conclure les négociations ?")
        assert answer.language == "fr" and not answer.abstained
        assert FRENCH_SEED in cited_sources(answer) or ENGLISH_SEED in cited_sources(answer)
        assert "15" in answer.answer
        assert_markers_valid(answer)

    def test_arabic_question(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.ask("لماذا تراجعت أمازون عن حظر تيك توك؟")
        assert answer.language == "ar" and not answer.abstained
        assert ARABIC_SEED in cited_sources(answer)
        assert "أمازون" in answer.answer
        assert_markers_valid(answer)

    def test_arabic_question_with_diacritics_and_indic_digits(self, seeded_engine: Engine) -> None:
        plain = seeded_engine.ask("هل تخطط تيك توك لإطلاق نسخة أميركية مستقلة بحلول عام 2025؟")
        decorated = seeded_engine.ask(
            "هَلْ تُخَطِّطُ تيـك تـوك لإطلاق نُسخة أمـيركية مستقلة بحلول عام ٢٠٢٥؟"
        )
        assert "003_9ef1e0992aeb8b7c.txt" in cited_sources(plain)
        assert [c.passage_id for c in decorated.citations] == [
            c.passage_id for c in plain.citations
        ]

    def test_french_elisions_with_either_apostrophe(self, seeded_engine: Engine) -> None:
        curly = seeded_engine.ask("Qu’a promis Microsoft au sujet de l’achat et des données ?")
        straight = seeded_engine.ask("Qu'a promis Microsoft au sujet de l'achat et des données ?")
        assert curly.answer == straight.answer and not curly.abstained

    @pytest.mark.parametrize(
        "question",
        [
            "Who won the 2022 FIFA World Cup?",
            "Qui a gagné la Coupe du monde de football 2022 ?",
            "من فاز بكأس العالم لكرة القدم 2022؟",
        ],
    )
    def test_abstains_when_articles_do_not_cover_it(
        self, seeded_engine: Engine, question: str
    ) -> None:
        answer = seeded_engine.ask(question)
        assert answer.abstained and answer.citations == []
        assert "[" not in answer.answer

    def test_abstention_speaks_the_question_language(self, seeded_engine: Engine) -> None:
        assert "articles" in seeded_engine.ask("Who won the 2022 FIFA World Cup?").answer
        assert "المقالات" in seeded_engine.ask("من فاز بكأس العالم لكرة القدم 2022؟").answer

    def test_top_k_limits_sources(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.ask("Why did Wells Fargo ban TikTok?", top_k=1)
        assert len(answer.citations) <= 1

    def test_search_ranks_passages_without_answering(self, seeded_engine: Engine) -> None:
        passages = seeded_engine.search("Pourquoi Amazon a-t-il interdit TikTok ?", top_k=3)
        assert 1 <= len(passages) <= 3
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        assert ARABIC_SEED in {p.source for p in seeded_engine.search("حظر أمازون تيك توك")}
        with pytest.raises(BadInputError):
            seeded_engine.search("  ")

    def test_json_contract(self, seeded_engine: Engine) -> None:
        data = json.loads(seeded_engine.ask("Who wants to buy TikTok?").model_dump_json())
        assert {"question", "answer", "abstained", "citations"} <= set(data)
        assert {"n", "source", "title", "language", "text"} <= set(data["citations"][0])


class TestQuestionCleaning:
    @pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
    def test_empty_is_refused(self, question: str) -> None:
        with pytest.raises(BadInputError, match="empty"):
            clean_question(question, 2000)

    def test_huge_question_is_truncated_with_a_notice(self, seeded_engine: Engine) -> None:
        question = "What did Microsoft promise about data storage? " + "blah " * 4000
        answer = seeded_engine.ask(question)
        assert len(answer.question) <= seeded_engine.settings.max_question_chars
        assert answer.notices and "characters" in answer.notices[0]

    def test_markup_is_just_text(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.ask("<script>alert(1)</script> **Microsoft** data?")
        assert answer.question.startswith("<script>")


class TestIngest:
    def test_reingest_is_a_no_op(self, settings) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        first = engine.ingest()
        assert (first.articles, first.added) == (5, 5)
        generation = engine.index.snapshot().generation
        published = LexicalIndex.current_name(settings.lexical_dir())
        again = engine.ingest()
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
        assert engine.index.snapshot().generation == generation
        assert LexicalIndex.current_name(settings.lexical_dir()) == published, "not rewritten"
        assert engine.index.vector.count() == first.passages

    def test_changed_and_deleted_files(self, settings, corpus: Path) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        engine.ingest()
        (corpus / ENGLISH_SEED).write_text(
            "Zanzibar ferry news\nThe Zanzibar ferry company bought twelve new boats.",
            encoding="utf-8",
        )
        (corpus / FRENCH_SEED).unlink()
        report = engine.ingest()
        assert (report.updated, report.removed, report.articles) == (1, 1, 4)
        assert engine.index.vector.count() == report.passages
        assert FRENCH_SEED not in {a.source for a in engine.articles()}
        answer = engine.ask("How many boats did the Zanzibar ferry company buy?")
        assert cited_sources(answer) == {ENGLISH_SEED} and "twelve" in answer.answer
        gone = engine.ask("Qu’a dit Mike Pompeo sur les éditeurs de logiciels chinois ?")
        assert FRENCH_SEED not in cited_sources(gone)

    def test_rebuild(self, settings) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        engine.ingest()
        report = engine.ingest(rebuild=True)
        assert report.added == 5 and engine.index.vector.count() == report.passages

    def test_a_second_process_sees_the_new_snapshot(self, settings, corpus: Path) -> None:  # type: ignore[no-untyped-def]
        writer, reader = Engine(settings), Engine(settings)
        writer.ingest()
        assert len(reader.articles()) == 5
        (corpus / "new.txt").write_text(
            "Quokka news\nA quokka was seen in Perth.", encoding="utf-8"
        )
        writer.ingest()
        assert "new.txt" in {c.source for c in reader.ask("Where was the quokka seen?").citations}

    def test_two_ingests_at_once_are_refused(self, settings) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        settings.data_dir.mkdir(parents=True)
        with (settings.data_dir / LOCK_FILE).open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            with pytest.raises(IngestBusyError, match="another ingest"):
                engine.ingest()

    def test_unwritable_data_dir(self, tmp_path: Path, corpus: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        engine = Engine(make_settings(tmp_path, corpus, data_dir=blocker / "data"))
        with pytest.raises(IndexUnavailableError, match="NEWSBOT_DATA_DIR"):
            engine.ingest()

    def test_corrupted_index_says_rebuild(self, settings) -> None:  # type: ignore[no-untyped-def]
        Engine(settings).ingest()
        lexical = settings.lexical_dir()
        current = lexical / (lexical / "CURRENT").read_text()
        (current / "meta.json").write_text("garbage")
        with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
            Engine(settings).ask("Who wants to buy TikTok?")
        Engine(settings).ingest(rebuild=True)
        assert not Engine(settings).ask("Who wants to buy TikTok?").abstained

    @pytest.mark.parametrize("pointer", [b"", b"\n", b"\xff\xfe\xfa", b"../elsewhere"])
    def test_a_damaged_pointer_is_damage_not_a_fresh_start(  # type: ignore[no-untyped-def]
        self, settings, pointer: bytes
    ) -> None:
        Engine(settings).ingest()
        lexical = settings.lexical_dir()
        snapshots = sorted(p.name for p in lexical.iterdir() if p.is_dir())
        (lexical / "CURRENT").write_bytes(pointer)
        engine = Engine(settings)
        with pytest.raises(IndexUnavailableError, match=r"run `newsbot ingest --rebuild`$"):
            engine.has_index()  # never "nothing indexed yet", which would index over it
        with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
            engine.ask("Who wants to buy TikTok?")
        assert sorted(p.name for p in lexical.iterdir() if p.is_dir()) == snapshots
        engine.ingest(rebuild=True)
        assert not Engine(settings).ask("Who wants to buy TikTok?").abstained

    def test_a_truncated_index_file_says_rebuild(self, settings) -> None:  # type: ignore[no-untyped-def]
        Engine(settings).ingest()
        lexical = settings.lexical_dir()
        rows = lexical / (lexical / "CURRENT").read_text() / "subword" / "rows.npy"
        rows.write_bytes(rows.read_bytes()[: len(rows.read_bytes()) // 2])
        with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
            Engine(settings).ask("Who wants to buy TikTok?")

    def test_no_index_yet(self, settings) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        assert not engine.has_index()
        assert engine.ask("Who wants to buy TikTok?").abstained


def test_passage_place_in_its_article(seeded_engine: Engine) -> None:
    answer = seeded_engine.ask("لماذا تراجعت أمازون عن حظر تيك توك؟")
    citation = answer.citations[0]
    article = next(a for a in seeded_engine.articles() if a.source == citation.source)
    place = seeded_engine.passage_place(citation.passage_id)
    assert place is not None and place[1] == article.passages
    assert (place[0] == 1) == (citation.start == 0)
    assert seeded_engine.passage_place("no-such-passage") is None


def test_warm_up_touches_nothing_without_an_index(settings) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(settings)
    engine.warm_up()
    assert not settings.data_dir.exists()
    engine.ingest()
    engine.warm_up()
    assert not engine.ask("Who wants to buy TikTok?").abstained


class TestVectorStoreGap:
    """A vector ranking that is weighted but has nothing to rank is never silent."""

    QUESTION = "What did Microsoft promise about data storage?"

    @pytest.fixture
    def weighted(self, tmp_path: Path, corpus: Path) -> Engine:
        engine = Engine(make_settings(tmp_path, corpus, vector_weight=1.0))
        engine.ingest()
        assert not any("vectors" in n for n in engine.ask(self.QUESTION).notices)
        return engine

    def test_a_deleted_store_is_named_in_every_answer(self, weighted: Engine) -> None:
        import shutil

        shutil.rmtree(weighted.settings.chroma_dir())
        reader = Engine(weighted.settings)
        for _ in range(2):
            notices = reader.ask(self.QUESTION).notices
            assert any(
                "holds no vectors" in n and "run `newsbot ingest --rebuild`" in n for n in notices
            ), notices

    def test_a_zeroed_store_is_named(self, weighted: Engine) -> None:
        (weighted.settings.chroma_dir() / "chroma.sqlite3").write_bytes(b"")
        notices = Engine(weighted.settings).ask(self.QUESTION).notices
        assert any("holds no vectors" in n for n in notices), notices

    def test_passages_stored_without_vectors_are_counted(self, weighted: Engine) -> None:
        from rag.vector_store import VectorIndex

        vectors = weighted.index.vector
        assert isinstance(vectors, VectorIndex)
        vectors.delete(sorted(vectors.ids())[:3])
        notices = Engine(weighted.settings).ask(self.QUESTION).notices
        assert any("run `newsbot ingest` to embed them" in n for n in notices), notices

    def test_the_rebuild_it_advises_clears_the_notice(self, weighted: Engine) -> None:
        import shutil

        shutil.rmtree(weighted.settings.chroma_dir())
        reader = Engine(weighted.settings)
        reader.ingest(rebuild=True)
        assert not any("vectors" in n for n in reader.ask(self.QUESTION).notices)


SNAPSHOT_FILES = [
    "meta.json",
    "passages.jsonl",
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
    "subword/grams.npy",
    "subword/indptr.npy",
    "subword/meta.json",
    "subword/rows.npy",
    "subword/weights.npy",
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the seeds indexed, for tests to copy and damage."""
    root = tmp_path_factory.mktemp("damage")
    Engine(make_settings(root, SEEDS_DIR)).ingest()
    return root


class TestDamage:
    """Every damaged or missing index file is one line that says to rebuild, and is never
    taken for "nothing indexed yet"."""

    QUESTION = "Who wants to buy TikTok?"

    def damaged_engine(self, indexed: Path, tmp_path: Path) -> tuple[Engine, Path]:
        import shutil

        shutil.copytree(indexed, tmp_path / "copy")
        engine = Engine(make_settings(tmp_path / "copy", tmp_path / "no-corpus"))
        return engine, engine.settings.lexical_dir()

    def assert_says_rebuild(self, engine: Engine) -> None:
        with pytest.raises(IndexUnavailableError) as failure:
            engine.has_index() and engine.ask(self.QUESTION)
        message = str(failure.value)
        assert "\n" not in message and message.endswith("run `newsbot ingest --rebuild`")

    @pytest.mark.parametrize("damage", ["empty", "garbled", "deleted"])
    @pytest.mark.parametrize("name", SNAPSHOT_FILES)
    def test_a_damaged_snapshot_file(
        self, indexed: Path, tmp_path: Path, name: str, damage: str
    ) -> None:
        engine, lexical = self.damaged_engine(indexed, tmp_path)
        path = lexical / LexicalIndex.current_name(lexical) / name  # type: ignore[operator]
        data = bytearray(path.read_bytes())
        if damage == "empty":
            path.write_bytes(b"")
        elif damage == "garbled":
            middle = len(data) // 2
            data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
            path.write_bytes(bytes(data))
        else:
            path.unlink()
        self.assert_says_rebuild(engine)

    def test_a_deleted_pointer_is_not_a_first_run(self, indexed: Path, tmp_path: Path) -> None:
        engine, lexical = self.damaged_engine(indexed, tmp_path)
        (lexical / "CURRENT").unlink()
        self.assert_says_rebuild(engine)

    def test_a_deleted_lexical_index_is_not_a_first_run(
        self, indexed: Path, tmp_path: Path
    ) -> None:
        import shutil

        engine, lexical = self.damaged_engine(indexed, tmp_path)
        shutil.rmtree(lexical)
        self.assert_says_rebuild(engine)
        assert engine.index.vector.count() > 0  # the user's vectors were not touched
