"""The engine over real Chroma and bm25s indexes in a temporary data dir."""

from __future__ import annotations

import fcntl
import json
import re
from pathlib import Path

import pytest

from rag.engine import Engine, clean_question
from rag.errors import BadInputError, IndexUnavailableError, IngestBusyError
from rag.models import Conversation
from rag.store.index import LOCK_FILE
from rag.store.lexical import LexicalIndex
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
        answer = seeded_engine.reply("What did Microsoft promise about data storage?").answer
        assert not answer.abstained
        assert cited_sources(answer) & {ENGLISH_SEED, FRENCH_SEED, "000_df82538c9e46931c.txt"}
        assert "United States" in answer.answer
        assert_markers_valid(answer)
        for citation in answer.citations:
            for start, end in citation.highlights:
                assert citation.text[start:end] in answer.answer

    def test_french_question(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.reply("Quand Microsoft espère-t-il un résultat définitif ?").answer
        assert answer.language == "fr" and not answer.abstained
        assert FRENCH_SEED in cited_sources(answer) or ENGLISH_SEED in cited_sources(answer)
        assert "15" in answer.answer
        assert_markers_valid(answer)

    def test_arabic_question(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.reply("لماذا تراجعت أمازون عن حظر تيك توك؟").answer
        assert answer.language == "ar" and not answer.abstained
        assert ARABIC_SEED in cited_sources(answer)
        assert "أمازون" in answer.answer
        assert_markers_valid(answer)

    def test_arabic_question_with_diacritics_and_indic_digits(self, seeded_engine: Engine) -> None:
        plain = seeded_engine.reply(
            "هل تخطط تيك توك لإطلاق نسخة أميركية مستقلة بحلول عام 2025؟"
        ).answer
        decorated = seeded_engine.reply(
            "هَلْ تُخَطِّطُ تيـك تـوك لإطلاق نُسخة أمـيركية مستقلة بحلول عام ٢٠٢٥؟"
        ).answer
        assert "003_9ef1e0992aeb8b7c.txt" in cited_sources(plain)
        assert [c.passage_id for c in decorated.citations] == [
            c.passage_id for c in plain.citations
        ]

    def test_french_elisions_with_either_apostrophe(self, seeded_engine: Engine) -> None:
        curly = seeded_engine.reply(
            "Qu’a promis Microsoft au sujet de l’achat et des données ?"
        ).answer
        straight = seeded_engine.reply(
            "Qu'a promis Microsoft au sujet de l'achat et des données ?"
        ).answer
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
        answer = seeded_engine.reply(question).answer
        assert answer.abstained and answer.citations == []
        assert "[" not in answer.answer

    def test_abstention_speaks_the_question_language(self, seeded_engine: Engine) -> None:
        assert "articles" in seeded_engine.reply("Who won the 2022 FIFA World Cup?").answer.answer
        assert (
            "المقالات" in seeded_engine.reply("من فاز بكأس العالم لكرة القدم 2022؟").answer.answer
        )

    def test_top_k_limits_sources(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.reply("Why did Wells Fargo ban TikTok?", top_k=1).answer
        assert len(answer.citations) <= 1

    def test_search_ranks_passages_without_answering(self, seeded_engine: Engine) -> None:
        passages = seeded_engine.search("Pourquoi Amazon a-t-il interdit TikTok ?", top_k=3)
        assert 1 <= len(passages) <= 3
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        assert ARABIC_SEED in {p.source for p in seeded_engine.search("حظر أمازون تيك توك")}
        with pytest.raises(BadInputError):
            seeded_engine.search("  ")

    def test_json_contract(self, seeded_engine: Engine) -> None:
        data = json.loads(seeded_engine.reply("Who wants to buy TikTok?").answer.model_dump_json())
        assert {"question", "answer", "abstained", "citations"} <= set(data)
        assert {"n", "source", "title", "language", "text"} <= set(data["citations"][0])


class TestQuestionCleaning:
    @pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
    def test_empty_is_refused(self, question: str) -> None:
        with pytest.raises(BadInputError, match="empty"):
            clean_question(question, 2000)

    def test_huge_question_is_truncated_with_a_notice(self, seeded_engine: Engine) -> None:
        question = "What did Microsoft promise about data storage? " + "blah " * 4000
        answer = seeded_engine.reply(question).answer
        assert len(answer.question) <= seeded_engine.settings.max_question_chars
        assert answer.notices and "characters" in answer.notices[0]

    def test_markup_is_just_text(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.reply("<script>alert(1)</script> **Microsoft** data?").answer
        assert answer.question.startswith("<script>")


class TestReply:
    """`Engine.reply`, the one way to ask: what it tells at once, and what waits for a read."""

    @pytest.mark.parametrize("message", ["", "   ", "\x00"])
    def test_a_message_with_nothing_to_ask_fails_at_once(
        self, seeded_engine: Engine, message: str
    ) -> None:
        with pytest.raises(BadInputError, match="empty"):
            seeded_engine.reply(message)

    @pytest.mark.parametrize(
        ("message", "kind", "language"),
        [("Hello!", "greeting", "en"), ("merci !", "thanks", "fr"), ("👍", "emoji", None)],
    )
    def test_small_talk_is_told_and_refused_without_a_turn(
        self, seeded_engine: Engine, message: str, kind: str, language: str | None
    ) -> None:
        conversation = Conversation()
        reply = seeded_engine.reply(message, conversation=conversation, reply_language="ar")
        assert reply.small_talk is not None and reply.small_talk.kind == kind
        assert reply.answer.abstained and not reply.answer.citations and reply.passages == []
        assert reply.answer.language == (language or "ar")
        assert len(conversation) == 0

    @pytest.mark.parametrize("reply_language", [None, "en", "fr", "ar"])
    def test_a_message_in_no_telling_language_is_refused_in_the_reply_language(
        self, seeded_engine: Engine, reply_language: str | None
    ) -> None:
        reply = seeded_engine.reply("Zorglub?", reply_language=reply_language)
        answer = reply.answer
        assert reply.small_talk is None and answer.abstained
        assert answer.language == (reply_language or "en")
        assert answer.answer == seeded_engine.refusal(reply_language or "en")

    def test_a_message_in_a_known_language_is_answered_in_it_whatever_the_reply_language(
        self, seeded_engine: Engine
    ) -> None:
        answer = seeded_engine.reply(
            "Pourquoi Wells Fargo a-t-il interdit TikTok ?", reply_language="ar"
        ).answer
        assert answer.language == "fr"

    def test_the_answer_keeps_the_question_as_asked_and_the_turn_how_it_was_read(
        self, seeded_model_engine: Engine
    ) -> None:
        conversation = Conversation()
        _ = seeded_model_engine.reply("Who wants to buy TikTok?", conversation=conversation).answer
        answer = seeded_model_engine.reply("and when?", conversation=conversation).answer
        assert answer.question == "and when?" and answer.read_as
        turn = conversation.last
        assert turn is not None and turn.question == "and when?"
        assert turn.read_with == "Who wants to buy TikTok?"


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
        answer = engine.reply("How many boats did the Zanzibar ferry company buy?").answer
        assert cited_sources(answer) == {ENGLISH_SEED} and "twelve" in answer.answer
        gone = engine.reply("Qu’a dit Mike Pompeo sur les éditeurs de logiciels chinois ?").answer
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
        assert "new.txt" in {
            c.source for c in reader.reply("Where was the quokka seen?").answer.citations
        }

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
            _ = Engine(settings).reply("Who wants to buy TikTok?").answer
        Engine(settings).ingest(rebuild=True)
        assert not Engine(settings).reply("Who wants to buy TikTok?").answer.abstained

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
            _ = engine.reply("Who wants to buy TikTok?").answer
        assert sorted(p.name for p in lexical.iterdir() if p.is_dir()) == snapshots
        engine.ingest(rebuild=True)
        assert not Engine(settings).reply("Who wants to buy TikTok?").answer.abstained

    def test_a_truncated_index_file_says_rebuild(self, settings) -> None:  # type: ignore[no-untyped-def]
        Engine(settings).ingest()
        lexical = settings.lexical_dir()
        rows = lexical / (lexical / "CURRENT").read_text() / "subword" / "rows.npy"
        rows.write_bytes(rows.read_bytes()[: len(rows.read_bytes()) // 2])
        with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
            _ = Engine(settings).reply("Who wants to buy TikTok?").answer

    def test_no_index_yet(self, settings) -> None:  # type: ignore[no-untyped-def]
        engine = Engine(settings)
        assert not engine.has_index()
        assert engine.reply("Who wants to buy TikTok?").answer.abstained


def test_a_citation_knows_its_place_in_its_article(seeded_engine: Engine) -> None:
    answer = seeded_engine.reply("لماذا تراجعت أمازون عن حظر تيك توك؟").answer
    citation = answer.citations[0]
    article = next(a for a in seeded_engine.articles() if a.source == citation.source)
    assert citation.passages == article.passages
    assert (citation.passage == 1) == (citation.start == 0)


def _place_in_article(engine: Engine, passage_id: str) -> tuple[int, int]:
    """(k, n) when the passage is the k-th of its article's n passages, read off the index."""
    snapshot = engine.index.snapshot()
    found = snapshot.records[snapshot.row_of[passage_id]]
    starts = sorted(record.start for record in snapshot.records if record.path == found.path)
    return starts.index(found.start) + 1, len(starts)


@pytest.mark.parametrize(
    "question",
    [
        "Which country holds the backup copy of TikTok's US user data?",
        "Quels avantages Microsoft s’engage-t-il à offrir au gouvernement américain ?",
        "ما منصة التواصل الاجتماعي التي تمتلكها مايكروسوفت؟",
    ],
)
def test_citations_say_where_their_passage_sits_and_what_it_is_cited_for(
    seeded_engine: Engine, question: str
) -> None:
    answer = seeded_engine.reply(question).answer
    assert answer.citations
    for citation in answer.citations:
        assert (citation.passage, citation.passages) == _place_in_article(
            seeded_engine, citation.passage_id
        )
        start, end = citation.highlights[0]
        first_cited = " ".join(citation.text[start:end].split())
        assert citation.cited_opening.removesuffix("…") in first_cited
        assert len(citation.cited_opening) <= 41
        # The span cited first in the answer, wherever it sits in the passage.
        found = [answer.answer.find(citation.text[s:e]) for s, e in citation.highlights]
        if all(at >= 0 for at in found):
            assert found[0] == min(found)


def test_warm_up_touches_nothing_without_an_index(settings) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(settings)
    engine.warm_up()
    assert not settings.data_dir.exists()
    engine.ingest()
    engine.warm_up()
    assert not engine.reply("Who wants to buy TikTok?").answer.abstained


class TestVectorStoreGap:
    """A vector ranking that is weighted but has nothing to rank is never silent."""

    QUESTION = "What did Microsoft promise about data storage?"

    @pytest.fixture
    def weighted(self, tmp_path: Path, corpus: Path) -> Engine:
        engine = Engine(make_settings(tmp_path, corpus, vector_weight=1.0))
        engine.ingest()
        assert not any("vectors" in n for n in engine.reply(self.QUESTION).answer.notices)
        return engine

    def test_a_deleted_store_is_named_in_every_answer(self, weighted: Engine) -> None:
        import shutil

        shutil.rmtree(weighted.settings.chroma_dir())
        reader = Engine(weighted.settings)
        for _ in range(2):
            notices = reader.reply(self.QUESTION).answer.notices
            assert any(
                "holds no vectors" in n and "run `newsbot ingest --rebuild`" in n for n in notices
            ), notices

    def test_a_zeroed_store_is_named(self, weighted: Engine) -> None:
        (weighted.settings.chroma_dir() / "chroma.sqlite3").write_bytes(b"")
        notices = Engine(weighted.settings).reply(self.QUESTION).answer.notices
        assert any("holds no vectors" in n for n in notices), notices

    def test_passages_stored_without_vectors_are_counted(self, weighted: Engine) -> None:
        from rag.store.vectors import VectorIndex

        vectors = weighted.index.vector
        assert isinstance(vectors, VectorIndex)
        vectors.delete(sorted(vectors.ids())[:3])
        notices = Engine(weighted.settings).reply(self.QUESTION).answer.notices
        assert any("run `newsbot ingest` to embed them" in n for n in notices), notices

    def test_the_rebuild_it_advises_clears_the_notice(self, weighted: Engine) -> None:
        import shutil

        shutil.rmtree(weighted.settings.chroma_dir())
        reader = Engine(weighted.settings)
        reader.ingest(rebuild=True)
        assert not any("vectors" in n for n in reader.reply(self.QUESTION).answer.notices)


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
            engine.has_index() and engine.reply(self.QUESTION).answer
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


FOLLOW_UP_READ_WITH: dict[str, str] = {
    "en": "Read as a follow-up of “{}”.",
    "fr": "Lu comme la suite de « {} ».",
    "ar": "فُهم السؤال على أنه متابعة لسؤال «{}».",
}
FOLLOW_UP_REFUSED_WITH: dict[str, str] = {
    "en": "Read as a follow-up of “{}”; if it is a new question, ask it in full.",
    "fr": "Lu comme la suite de « {} » ; s’il s’agit d’une nouvelle question, posez-la en entier.",
    "ar": "فُهم السؤال على أنه متابعة لسؤال «{}»؛ إن كان سؤالًا جديدًا فاطرحه كاملًا.",
}
FOLLOW_UP_NO_PREVIOUS: dict[str, str] = {
    "en": "Read on its own: there is no earlier question to read it with. Ask it in full, "
    "naming what it is about.",
    "fr": "Lu seul : il n’y a pas de question précédente avec laquelle le lire. Posez la "
    "question en entier, en nommant ce dont elle parle.",
    "ar": "فُهم السؤال وحده: لا يوجد سؤال سابق يُقرأ معه. اطرح السؤال كاملًا واذكر موضوعه.",
}


class TestOfflineFollowUps:
    """A short follow-up is read with the question before it, without a language model."""

    @pytest.mark.parametrize(
        ("language", "question", "follow_up", "focus"),
        [
            ("en", "Is Microsoft in talks to buy TikTok?", "and what about Amazon?", "Amazon"),
            ("fr", "Microsoft veut-il acheter TikTok ?", "et pour Amazon ?", "Amazon"),
            ("ar", "هل تريد مايكروسوفت شراء تيك توك؟", "وماذا عن أمازون؟", "أمازون"),
        ],
    )
    def test_and_amazon_after_microsofts_talks_is_read_with_it(
        self,
        seeded_model_engine: Engine,
        language: str,
        question: str,
        follow_up: str,
        focus: str,
    ) -> None:
        # "And what about Amazon?" asks the question before about Amazon: either the
        # Amazon article answers it, or the refusal says how it was read.
        conversation = Conversation()
        first = seeded_model_engine.reply(question, conversation=conversation).answer
        assert first.citations[0].source != ARABIC_SEED  # that one was about Microsoft
        answer = seeded_model_engine.reply(follow_up, conversation=conversation).answer
        assert answer.language == language
        assert answer.question == follow_up and answer.read_as == f"{question} {focus}"
        if answer.abstained:
            assert answer.notices[-1] == FOLLOW_UP_REFUSED_WITH[language].format(question)
        else:
            assert cited_sources(answer) == {ARABIC_SEED}
            assert answer.notices[-1] == FOLLOW_UP_READ_WITH[language].format(question)

    @pytest.mark.parametrize(
        ("language", "question", "follow_up"),
        [
            ("en", "Who wants to buy TikTok?", "and when?"),
            ("fr", "Microsoft veut-il acquérir TikTok ?", "et quand ?"),
            ("ar", "من يريد شراء تيك توك؟", "ومتى؟"),
        ],
    )
    def test_a_follow_up_that_only_asks_is_answered_from_the_question_before(
        self, seeded_engine: Engine, language: str, question: str, follow_up: str
    ) -> None:
        # "And when?" asks when of the question before: either answered from what it was
        # answered from, or refused saying how it was read.
        conversation = Conversation()
        first = seeded_engine.reply(question, conversation=conversation).answer
        answer = seeded_engine.reply(follow_up, conversation=conversation).answer
        assert answer.language == language
        if answer.abstained:
            assert answer.notices[-1] == FOLLOW_UP_REFUSED_WITH[language].format(question)
        else:
            assert cited_sources(answer) & cited_sources(first)
            assert answer.notices[-1] == FOLLOW_UP_READ_WITH[language].format(question)

    @pytest.mark.parametrize(
        ("language", "follow_up"),
        [("en", "and Wells Fargo?"), ("fr", "et pour Wells Fargo ?"), ("ar", "وعن Wells Fargo؟")],
    )
    def test_the_follow_up_is_answered_from_passages_that_name_what_it_asks_about(
        self, seeded_engine: Engine, language: str, follow_up: str
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply(
            "Which company asked its employees to delete TikTok?", conversation=conversation
        ).answer
        answer = seeded_engine.reply(follow_up, conversation=conversation).answer
        assert answer.language == language
        assert conversation.last is not None and conversation.last.focus == "Wells Fargo"
        if not answer.abstained:
            assert cited_sources(answer) == {ARABIC_SEED}
            sentences = [s for s in re.split(r"\[\d+\]", answer.answer) if s.strip()]
            assert sentences and all("Wells Fargo" in sentence for sentence in sentences)

    @pytest.mark.parametrize(
        ("language", "question", "follow_up"),
        [
            ("en", "Who wants to buy TikTok?", "and what about Amazon?"),
            ("fr", "Microsoft veut-il acquérir TikTok ?", "et pour Amazon ?"),
            ("ar", "هل تريد مايكروسوفت شراء تيك توك؟", "وماذا عن أبل؟"),
        ],
    )
    def test_a_refused_follow_up_says_it_was_read_with_the_question_before(
        self, seeded_engine: Engine, language: str, question: str, follow_up: str
    ) -> None:
        # With the hashing embedding, words only: no English or French article names
        # Amazon, and none names Apple.
        conversation = Conversation()
        _ = seeded_engine.reply(question, conversation=conversation).answer
        answer = seeded_engine.reply(follow_up, conversation=conversation).answer
        assert answer.abstained and answer.language == language
        assert answer.notices[-1] == FOLLOW_UP_REFUSED_WITH[language].format(question)

    @pytest.mark.parametrize(
        ("language", "follow_up"),
        [("en", "and what about Amazon?"), ("fr", "et pour Amazon ?"), ("ar", "ومتى؟")],
    )
    def test_a_refused_follow_up_with_nothing_before_says_it_was_read_on_its_own(
        self, seeded_engine: Engine, language: str, follow_up: str
    ) -> None:
        for conversation in (None, Conversation()):
            answer = seeded_engine.reply(follow_up, conversation=conversation).answer
            assert answer.abstained and answer.read_as is None
            assert answer.notices[-1] == FOLLOW_UP_NO_PREVIOUS[language]

    def test_a_refused_long_question_that_opens_like_a_follow_up_says_why(
        self, seeded_engine: Engine
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply("Who wants to buy TikTok?", conversation=conversation).answer
        answer = seeded_engine.reply(
            "And what did Apple say about buying the whole of TikTok in Europe?",
            conversation=conversation,
        ).answer
        assert answer.abstained and answer.read_as is None
        assert answer.notices[-1] == (
            "Read on its own: it is too long to be a follow-up. Ask it in full, naming what "
            "it is about."
        )

    @pytest.mark.parametrize(
        "question",
        [
            "What did Microsoft promise about data storage?",
            "Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?",
            "لماذا تراجعت أمازون عن حظر تيك توك؟",
        ],
    )
    def test_a_question_that_stands_alone_is_answered_as_without_a_conversation(
        self, seeded_engine: Engine, question: str
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply("Who wants to buy TikTok?", conversation=conversation).answer
        answer = seeded_engine.reply(question, conversation=conversation).answer
        assert answer == seeded_engine.reply(question).answer
        assert answer.read_as is None and not answer.notices


class TestAnswersReadWell:
    """Whole sentences that answer, the asked-for figure first, figures that differ side
    by side, and another language only after a note (issue 14), over the seeds with the
    words-only embedding; tests/test_bundled_model.py has the same with the bundled model."""

    def test_the_flagship_question_gets_the_whole_promise(self, seeded_engine: Engine) -> None:
        answer = seeded_engine.reply("What did Microsoft promise about data storage?").answer
        assert (
            "all private data of US TikTok users is transferred and remains in the United States"
            in answer.answer
        )
        assert "such data is currently stored or backed up outside" in answer.answer
        assert "»" not in answer.answer and "clarifies" not in answer.answer
        assert_markers_valid(answer)
        for citation in answer.citations:
            for start, end in citation.highlights:
                assert citation.text[start:end] in answer.answer

    @pytest.mark.parametrize(
        ("question", "headline"),
        [
            ("Who wants to buy TikTok?", "Microsoft will buy TikTok ["),
            (
                "هل تواصل مايكروسوفت المحادثات لشراء الذراع الأمريكية لتيك توك؟",
                "تيك توك: تواصل مايكروسوفت المحادثات لشراء الذراع الأمريكية للتطبيق [",
            ),
        ],
    )
    def test_a_headline_is_never_an_answer(
        self, seeded_engine: Engine, question: str, headline: str
    ) -> None:
        answer = seeded_engine.reply(question).answer
        assert not answer.abstained
        assert headline not in answer.answer

    def test_every_seed_answer_reads_well(self, seeded_engine: Engine) -> None:
        from rag.text.hygiene import check_answer, is_value_keyword

        asked_for_values = first_values = 0
        for line in (SEEDS_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            answer = seeded_engine.reply(item["question"]).answer
            if answer.abstained:
                continue
            titles = [citation.title for citation in answer.citations]
            found = check_answer(answer.answer, answer.language, titles)
            assert found.headlines == [], (item["id"], found.headlines)
            assert found.fragments == [], (item["id"], found.fragments)
            assert found.unbalanced_quotes == [], (item["id"], found.unbalanced_quotes)
            assert found.unannounced_languages == [], (item["id"], found.unannounced_languages)
            if any(all(map(is_value_keyword, group)) for group in item["expected_keywords"]):
                asked_for_values += 1
                first_values += found.first_holds_value
        assert asked_for_values >= 8 and first_values == asked_for_values

    def test_the_arabic_user_count_gives_both_arabic_figures_with_their_articles(
        self, seeded_engine: Engine
    ) -> None:
        answer = seeded_engine.reply("كم عدد مستخدمي تيك توك في الولايات المتحدة؟").answer
        assert answer.answer.startswith("تختلف المصادر: حوالي 80 مليون [1]، نحو 170 مليون [2]. ")
        sources = {citation.n: citation.source for citation in answer.citations}
        assert sources == {1: "000_df82538c9e46931c.txt", 2: "003_9ef1e0992aeb8b7c.txt"}
        assert_markers_valid(answer)

    def test_the_english_user_count_leads_with_the_figure(self, seeded_engine: Engine) -> None:
        from rag.text.hygiene import check_answer

        answer = seeded_engine.reply("How many TikTok users are there in the United States?").answer
        assert answer.answer.startswith(
            "In the United States alone, the service has nearly 100 million users"
        )
        assert answer.citations[0].source == ENGLISH_SEED
        # Not "…thus saving the threat from Trump:" after it.
        assert check_answer(answer.answer, "en").fragments == []

    def test_a_sentence_from_another_language_follows_its_note(self, seeded_engine: Engine) -> None:
        from rag.text.hygiene import check_answer

        answer = seeded_engine.reply("Microsoft veut-il acquérir TikTok ?").answer
        assert not answer.abstained
        assert check_answer(answer.answer, "fr").unannounced_languages == []
        for citation in answer.citations:
            if citation.language != "fr":
                note = "D’après l’article en anglais « Microsoft confirms interest in TitTok"
                assert note in answer.answer

    def test_a_question_of_no_language_is_answered_in_english(self, seeded_engine: Engine) -> None:
        from rag.text.hygiene import check_answer

        answer = seeded_engine.reply("TikTok").answer
        assert answer.language == "en" and not answer.abstained
        assert check_answer(answer.answer, "en").unannounced_languages == []


STRAY_INPUTS = [
    "clear",
    "thanks!",
    "merci beaucoup",
    "مرحبا",
    "?!?...;;;",
    "👍",
    "help",
    "asdfgh qwerty zxcvb",
    "'; DROP TABLE passages; --",
    "What is the weather like today?",
]


class TestAnAnswerThatAnswersOrAnHonestRefusal:
    """The trust issue: every answer answers what was asked, or refuses."""

    @pytest.mark.parametrize("message", STRAY_INPUTS)
    def test_stray_words_greetings_and_commands_never_get_a_cited_answer(
        self, seeded_model_engine: Engine, seeded_engine: Engine, message: str
    ) -> None:
        for engine in (seeded_model_engine, seeded_engine):
            answer = engine.reply(message).answer
            assert answer.abstained and answer.citations == [], (engine.setup, message)

    def test_small_talk_is_not_remembered_as_the_question_before(
        self, seeded_engine: Engine
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply(
            "Which bank asked its employees to remove TikTok?", conversation=conversation
        ).answer
        _ = seeded_engine.reply("thanks!", conversation=conversation).answer
        assert conversation.last is not None
        assert conversation.last.question == "Which bank asked its employees to remove TikTok?"

    @pytest.mark.parametrize(
        "question",
        [
            "How many TikTok users are there in India?",
            "Combien d’utilisateurs TikTok compte-t-il en France ?",
            "كم عدد مستخدمي تيك توك في ألمانيا؟",
        ],
    )
    def test_the_us_user_counts_do_not_answer_for_another_country(
        self, seeded_model_engine: Engine, question: str
    ) -> None:
        answer = seeded_model_engine.reply(question).answer
        assert answer.abstained and answer.citations == []

    def test_a_number_no_article_holds_is_named_in_the_refusal(
        self, seeded_model_engine: Engine
    ) -> None:
        answer = seeded_model_engine.reply("What was TikTok's revenue in 2019?").answer
        assert answer.abstained
        assert answer.notices[-1] == "No indexed article mentions “2019”."

    def test_a_date_question_is_answered_by_a_sentence_with_the_date(
        self, seeded_model_engine: Engine
    ) -> None:
        answer = seeded_model_engine.reply("When was the TikTok app launched?").answer
        assert not answer.abstained
        assert "2016" in answer.answer.split("[1]")[0]

    @pytest.mark.parametrize(
        "question",
        [
            "Why did Amazon back down on banning TikTok?",
            "Pourquoi Amazon a-t-il renoncé à interdire TikTok ?",
            "لماذا تراجعت أمازون عن حظر تيك توك؟",
        ],
    )
    def test_why_amazon_backed_down_is_answered_with_the_reason(
        self, seeded_model_engine: Engine, question: str
    ) -> None:
        # The README's showcase: the first sentence says why, not that it happened.
        answer = seeded_model_engine.reply(question).answer
        first = answer.answer.split("[1]")[0]
        assert "وتم إلغاء الحظر بعد أن ناقش ممثلو" in first
        assert cited_sources(answer) == {ARABIC_SEED}

    def test_every_answer_carries_its_likelihood_and_a_refusal_too(
        self, seeded_model_engine: Engine
    ) -> None:
        answered = seeded_model_engine.reply(
            "What did Microsoft promise about data storage?"
        ).answer
        refused = seeded_model_engine.reply("Who won the 2022 FIFA World Cup?").answer
        assert answered.answerability is not None and refused.answerability is not None
        assert answered.answerability > seeded_model_engine.answerer.threshold
        assert refused.answerability < seeded_model_engine.answerer.threshold


class TestLexicalOnlyAcrossLanguages:
    @pytest.mark.parametrize(
        ("question", "expected"),
        [
            (
                "What is the provisional name of the standalone American version of TikTok?",
                "The articles don't cover this in English; the articles in Arabic and "
                "French may answer it, but the lexical-only setup can't match a question "
                "across languages.",
            ),
            (
                "Pourquoi Amazon a-t-il renoncé à interdire TikTok ?",
                "Les articles en français ne traitent pas de cette question ; les articles "
                "en arabe et anglais y répondent peut-être, mais le mode lexical seul ne sait "
                "pas relier une question à une autre langue.",
            ),
        ],
    )
    def test_a_refusal_says_what_words_cannot_match(
        self, seeded_engine: Engine, question: str, expected: str
    ) -> None:
        answer = seeded_engine.reply(question).answer
        assert answer.abstained and answer.answer == expected
