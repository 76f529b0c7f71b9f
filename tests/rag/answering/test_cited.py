"""Cited generation: the citation filter on its own, then whole answers through the engine
with the real llama-index clients talking HTTP to stand-in OpenAI and Ollama servers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading

import pytest

from prompts import localized_prompt
from rag.answering.cited import AnswerLimit, CitationStream, answer_prompt, claim_highlights
from rag.engine import Engine
from rag.models import Answer, RetrievedPassage
from rag.reply import Reply as EngineReply
from tests.conftest import (
    API_KEY,
    ARABIC_SEED,
    ENGLISH_SEED,
    FRENCH_SEED,
    model_engine,
    needs_ollama,
    needs_openai,
)
from tests.standins._server import Reply, Request, Script, StandInServer
from tests.standins.ollama_api import OllamaStandIn
from tests.standins.openai_api import OpenAIStandIn

QUESTION = "What did Microsoft promise about data storage?"
UNCOVERED = "Who won the 2022 FIFA World Cup?"


def filtered(pieces: list[str], passages: int = 3) -> tuple[str, CitationStream]:
    stream = CitationStream(passages)
    shown = "".join(stream.feed(piece) for piece in pieces) + stream.finish()
    assert shown == stream.text
    return shown, stream


def assert_markers_valid(answer: Answer) -> None:
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(set(numbers)) == [c.n for c in answer.citations]
    first_use = list(dict.fromkeys(numbers))
    assert first_use == sorted(first_use), "sources are numbered in order of first use"


class TestCitationStream:
    def test_renumbers_in_order_of_first_use(self) -> None:
        text, stream = filtered(["Data stays in the US [3]. Jobs too [1]. Again [3]."])
        assert text == "Data stays in the US [1]. Jobs too [2]. Again [1]."
        assert stream.cited == [2, 0]

    def test_drops_markers_to_passages_that_were_not_given(self) -> None:
        text, stream = filtered(["It was sold [7]. It was banned [2] [0]. Done [4] here."])
        assert text == "It was sold. It was banned [1]. Done here."
        assert stream.cited == [1] and stream.dropped == 3

    def test_markers_split_across_pieces(self) -> None:
        pieces = ["Sold", " [", "1", "0", "]", " and", " bought [", "2", "]."]
        text, _ = filtered(pieces)
        assert text == "Sold and bought [1]."

    def test_groups_ranges_and_arabic_indic_digits(self) -> None:
        text, stream = filtered(["A [2, 1]. B [1-3]. ج [٣]. D [1 and 9]."])
        assert text == "A [1][2]. B [1][2][3]. ج [3]. D [2]."
        assert stream.cited == [1, 0, 2]

    def test_brackets_that_are_not_markers_stay(self) -> None:
        text, stream = filtered(["He said [sic] it [", "a note] [1]. [2"])
        assert text == "He said [sic] it [a note] [1]. [2"
        assert stream.cited == [0]

    def test_nothing_shown_can_change_later(self) -> None:
        stream = CitationStream(2)
        assert stream.feed("Stored in the US [") == "Stored in the US"
        assert stream.feed("9]") == ""
        assert stream.feed(".") == "."
        assert stream.finish() == ""
        assert stream.text == "Stored in the US."

    def test_no_answer_is_recognised_and_never_shown(self) -> None:
        for pieces in (["NO_", "ANSWER"], ["  NO_ANSWER.\n"], ["NO_ANSWER: nothing here"]):
            text, stream = filtered(pieces)
            assert text == "" and stream.no_answer

    def test_an_answer_starting_like_no_answer_is_kept(self) -> None:
        text, stream = filtered(["N", "o, the deal ", "was not signed [1]."])
        assert text == "No, the deal was not signed [1]." and not stream.no_answer

    def test_thinking_block_is_dropped(self) -> None:
        text, stream = filtered(["<think>passage [9] says", " so</think>\n\n", "Yes [2]."])
        assert text == "Yes [1]." and stream.cited == [1]

    def test_surrounding_whitespace_is_trimmed_and_paragraphs_kept(self) -> None:
        text, _ = filtered(["\n\n  First [1].\n\nSecond [2].  \n"])
        assert text == "First [1].\n\nSecond [2]."

    def test_sentences_left_without_a_valid_citation_are_counted(self) -> None:
        pieces = ["It was sold [7]. It was ", "banned [2] [0]. Done [", "4] here.\nBought [1]."]
        text, stream = filtered(pieces)
        assert text == "It was sold. It was banned [1]. Done here.\nBought [2]."
        # "It was banned" keeps a valid citation; the other two lost their only one.
        assert [text[:at] for at in stream.uncited] == [
            "It was sold",
            "It was sold. It was banned [1]. Done",
        ]
        whole = "".join(pieces)
        for split in ([whole], list(whole)):
            assert filtered(split)[1].uncited == stream.uncited, "however the reply is split"

    def test_a_marker_after_the_full_stop_belongs_to_its_sentence(self) -> None:
        _, stream = filtered(["Sold. [9] Banned [1]. Bought. [2]"])
        assert len(stream.uncited) == 1
        _, stream = filtered(["“Sold.” [1] U.S. data [8] stays [2]."])
        assert stream.uncited == []


def limited(pieces: list[str], max_chars: int) -> tuple[str, AnswerLimit]:
    """What AnswerLimit shows of `pieces`, checked to spell out its final answer."""
    limit = AnswerLimit(max_chars)
    shown = ""
    for piece in pieces:
        shown += limit.feed(piece)
        if limit.full:
            break
    shown += limit.finish()
    assert shown == limit.answer, "what was shown is never taken back"
    return shown, limit


class TestAnswerLimit:
    def test_an_answer_within_the_limit_is_untouched(self) -> None:
        pieces = ["Data stays", " in the US [1].", " Copies go [2]."]
        shown, limit = limited(pieces, 200)
        assert shown == "".join(pieces) and not limit.cut

    def test_cut_at_the_last_sentence_end_within_the_limit(self) -> None:
        sentence = "The data stays in the United States [1]. "
        words = [word + " " for word in (sentence * 10).split()]
        for pieces in (words, list(sentence * 10), [sentence * 10]):
            shown, limit = limited(pieces, 200)
            assert shown == (sentence * 4).strip() and limit.cut
            assert len(shown) <= 200

    def test_markers_after_the_full_stop_stay_with_their_sentence(self) -> None:
        shown, _ = limited(["Stays. [1] " * 30], 200)
        assert shown.endswith("Stays. [1]") and len(shown) <= 200

    def test_cut_at_a_word_when_no_sentence_ends_near_the_limit(self) -> None:
        shown, limit = limited(["word " * 100], 200)
        assert shown == ("word " * 40).strip() + "…" and limit.cut

    def test_a_line_break_ends_a_sentence(self) -> None:
        shown, _ = limited(["- an item without a full stop [1]\n" * 10], 200)
        assert shown == ("- an item without a full stop [1]\n" * 5).strip()

    def test_one_endless_word_is_cut_but_not_inside_a_marker(self) -> None:
        shown, _ = limited(["x" * 199 + "[12]"], 200)
        assert shown == "x" * 199 + "…"


def passage(text: str, language: str = "en", n: int = 1) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=f"p{n}",
        source=f"{n:03}.txt",
        title=f"Title {n}",
        language=language,
        text=text,
        start=0,
        end=len(text),
        score=1.0,
    )


def test_prompt_numbers_the_passages_with_title_and_language() -> None:
    passages = [passage("Microsoft will buy it."), passage("اشترت الشركة التطبيق.", "ar", 2)]
    system, user = answer_prompt("من يشتري تيك توك؟", "ar", passages)
    assert "NO_ANSWER" in system and "[1]" in system
    assert "[1] Title 1 (English; 001.txt)\nMicrosoft will buy it." in user
    assert "[2] Title 2 (Arabic; 002.txt)" in user
    assert "Question: من يشتري تيك توك؟" in user and "Answer in Arabic" in user


def test_prompt_leaves_dollar_placeholders_in_passages_alone() -> None:
    _, user = answer_prompt("Q?", "fr", [passage("It cost $5 and ${question} too.")])
    assert "It cost $5 and ${question} too." in user and "Answer in French" in user


def test_highlights_point_at_the_sentence_a_claim_rests_on() -> None:
    text = "TikTok was launched in 2016. Microsoft wants to buy its US business for billions."
    cited = passage(text)
    spans = claim_highlights("Microsoft wants to buy the US business [1].", 1, cited, "en")
    assert [text[start:end] for start, end in spans] == [
        "Microsoft wants to buy its US business for billions."
    ]
    assert claim_highlights("مايكروسوفت تريد الشراء [1].", 1, cited, "ar") == []


# -- through the engine, over HTTP ----------------------------------------------------

PROVIDERS = [
    pytest.param(OpenAIStandIn, marks=needs_openai, id="openai"),
    pytest.param(OllamaStandIn, marks=needs_ollama, id="ollama"),
]


@pytest.fixture(params=PROVIDERS)
def standin(request: pytest.FixtureRequest) -> StandInServer:
    with request.param() as server:
        yield server


def answer_only(reply: Reply) -> Script:
    """Answers the answer prompt with `reply`; translations are left empty."""
    return Script(answer=reply)


def collect(reply: EngineReply) -> tuple[str, Answer]:
    """What the reply streams, iterated in this thread, and its answer."""
    pieces = list(reply)
    assert pieces == [] or reply.streamed == "".join(pieces)
    return "".join(pieces), reply.answer


def answer_request(server: StandInServer) -> Request:
    return next(r for r in server.requests if r.prompt_kind() == "answer")


class TestGeneratedAnswers:
    def test_good_cited_answer(self, seeded_engine: Engine, standin: StandInServer) -> None:
        standin.responder = answer_only(
            Reply(
                text="Microsoft promised that the data would stay in the United States [2]. "
                "It would also delete copies kept abroad [1][2]."
            )
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        assert engine.mode == "generated"
        answer = engine.reply(QUESTION, top_k=3).answer
        assert answer.mode == "generated" and not answer.abstained
        assert answer.answer == (
            "Microsoft promised that the data would stay in the United States [1]. "
            "It would also delete copies kept abroad [2][1]."
        )
        assert_markers_valid(answer)
        prompt = answer_request(standin).user()
        retrieved = seeded_engine.reply(QUESTION, top_k=3).passages
        assert [c.passage_id for c in answer.citations] == [
            retrieved[1].passage_id,
            retrieved[0].passage_id,
        ]
        for number, shown in enumerate(retrieved, 1):
            assert f"[{number}] {shown.title} (" in prompt
        assert answer.notices == []
        data = json.loads(answer.model_dump_json())
        assert {"question", "answer", "abstained", "citations", "mode"} <= set(data)

    def test_citation_to_a_passage_not_given_is_removed(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(
            Reply(text="The data stays in the United States [7]. Copies abroad go [3].")
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        answer = engine.reply(QUESTION, top_k=3).answer
        prompt = answer_request(standin).user()
        assert "[3] " in prompt and "[4] " not in prompt, "three passages were given"
        assert answer.answer == "The data stays in the United States. Copies abroad go [1]."
        assert len(answer.citations) == 1 and answer.mode == "generated"
        assert_markers_valid(answer)

    def test_no_citation_falls_back_to_the_extractive_answer(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(Reply(text="Microsoft promised many things."))
        answer = (
            model_engine(seeded_engine.settings, standin, llm_translate=False)
            .reply(QUESTION)
            .answer
        )
        assert answer.mode == "extractive" and not answer.abstained
        assert answer.answer == seeded_engine.reply(QUESTION).answer.answer
        assert answer.notices == [
            "The language model's answer cited no passage; this is the extractive answer instead."
        ]

    def test_no_answer_abstains_in_the_question_language(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(Reply(text="NO_ANSWER"))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        answer = engine.reply("Qu’a promis Microsoft au sujet des données ?").answer
        assert answer.abstained and answer.citations == [] and answer.mode == "generated"
        assert answer.answer == localized_prompt("abstain", "fr")

    def test_uncovered_question_abstains_without_asking_the_model(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(Reply(text="Argentina won [1]."))
        answer = (
            model_engine(seeded_engine.settings, standin, llm_translate=False)
            .reply(UNCOVERED)
            .answer
        )
        assert answer.abstained and "answer" not in standin.kinds()

    def test_arabic_answer_with_arabic_indic_markers(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        question = "لماذا تراجعت أمازون عن حظر تيك توك؟"
        standin.responder = answer_only(
            Reply(text="قالت أمازون إن الرسالة أُرسلت عن طريق الخطأ [٢]، ثم تراجعت [١].")
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        answer = engine.reply(question).answer
        assert answer.language == "ar" and answer.mode == "generated"
        assert answer.answer == "قالت أمازون إن الرسالة أُرسلت عن طريق الخطأ [1]، ثم تراجعت [2]."
        assert ARABIC_SEED in {c.source for c in answer.citations}
        assert "Answer in Arabic" in answer_request(standin).user()

    def test_streamed_pieces_spell_out_the_final_answer(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(
            Reply(chunks=["Les données ", "resteront aux ", "États-Unis [", "4", "] [9]."])
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        streamed, answer = collect(
            engine.reply("Que deviendront les données des utilisateurs américains ?")
        )
        assert streamed == answer.answer == "Les données resteront aux États-Unis [1]."
        assert answer.mode == "generated" and answer.language == "fr"

    def test_slow_stream_arrives_piece_by_piece(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        rest_may_come = threading.Event()
        standin.responder = answer_only(
            Reply(chunks=["The data ", "stays in the US [1]."], hold=rest_may_come, hold_after=1)
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        reply = engine.reply(QUESTION)
        pieces = iter(reply)
        first = next(pieces)
        assert first == "The data", "shown before the server sent the rest"
        rest_may_come.set()
        streamed, answer = first + "".join(pieces), reply.answer
        assert streamed == answer.answer == "The data stays in the US [1]."

    def test_async_stream_for_asyncio_front_ends(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(Reply(text="The data stays in the US [1]."))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)

        reply = engine.reply(QUESTION)

        async def consume() -> list[str]:
            return [piece async for piece in reply]

        streamed, answer = "".join(asyncio.run(consume())), reply.answer
        assert streamed == answer.answer == "The data stays in the US [1]."

    def test_traced_answers_for_evaluation(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(Reply(text="It stays in the US [2]."))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        reply = engine.reply(QUESTION, top_k=4)
        answer, passages = reply.answer, reply.passages
        assert len(passages) == 4 and answer.mode == "generated"
        assert answer.citations[0].passage_id == passages[1].passage_id


class TestFailures:
    """Whatever the server does, the user gets an answer, with a one-line notice."""

    def expect_fallback(self, answer: Answer, reason: str) -> None:
        assert answer.mode == "extractive" and not answer.abstained and answer.citations
        assert len(answer.notices) == 1
        notice = answer.notices[0]
        assert notice.startswith(f"The language model failed ({reason}")
        assert "\n" not in notice

    @pytest.mark.parametrize("streaming", [False, True])
    def test_server_error(
        self, seeded_engine: Engine, standin: StandInServer, streaming: bool
    ) -> None:
        standin.responder = answer_only(Reply(status=500, error="model crashed"))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        if streaming:
            streamed, answer = collect(engine.reply(QUESTION))
            assert streamed == ""
        else:
            answer = engine.reply(QUESTION).answer
        self.expect_fallback(answer, "HTTP 500")

    @pytest.mark.parametrize("streaming", [False, True])
    def test_timeout(self, seeded_engine: Engine, standin: StandInServer, streaming: bool) -> None:
        never = threading.Event()  # released when the stand-in closes
        standin.responder = answer_only(Reply(text="Too late [1].", hold=never))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False, llm_timeout=0.5)
        answer = collect(engine.reply(QUESTION))[1] if streaming else engine.reply(QUESTION).answer
        self.expect_fallback(answer, "no reply within 0.5 s")

    def test_stream_that_stalls_half_way(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        never = threading.Event()
        standin.responder = answer_only(
            Reply(chunks=["The data ", "stays ", "[1]."], hold=never, hold_after=2)
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False, llm_timeout=0.5)
        streamed, answer = collect(engine.reply(QUESTION))
        assert streamed == "The data stays"
        assert answer.answer != streamed, "the front end replaces what was streamed"
        self.expect_fallback(answer, "no reply within 0.5 s")

    def test_connection_refused(self, seeded_engine: Engine, standin: StandInServer) -> None:
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        standin.close()
        self.expect_fallback(engine.reply(QUESTION).answer, "cannot connect to the server")

    @pytest.mark.parametrize("body", [b"{not json", b'{"unexpected": true}', b"[]"])
    def test_malformed_reply(
        self, seeded_engine: Engine, standin: StandInServer, body: bytes
    ) -> None:
        standin.responder = answer_only(Reply(raw_body=body))
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        self.expect_fallback(engine.reply(QUESTION).answer, "malformed reply")
        streamed, answer = collect(engine.reply(QUESTION))
        assert streamed == ""
        assert answer.mode == "extractive" and len(answer.notices) == 1

    def test_empty_reply(self, seeded_engine: Engine, standin: StandInServer) -> None:
        standin.responder = answer_only(Reply(text=""))
        answer = (
            model_engine(seeded_engine.settings, standin, llm_translate=False)
            .reply(QUESTION)
            .answer
        )
        self.expect_fallback(answer, "empty reply")


def answer_by(engine: Engine, how: str, question: str = QUESTION) -> tuple[str | None, Answer]:
    """The answer, asked `how`: at once (None streamed), streamed, streamed from a worker
    thread as the REPL does, or streamed to asyncio as the Telegram bot does."""
    reply = engine.reply(question)
    if how == "answer":
        return None, reply.answer
    if how == "iterate":
        return collect(reply)
    if how == "background":
        return "".join(reply.in_background()), reply.answer

    async def consume() -> list[str]:
        return [piece async for piece in reply]

    return "".join(asyncio.run(consume())), reply.answer


HOW = ["answer", "iterate", "async"]
FRONT_ENDS = [*HOW, "background"]


def warmed_up(engine: Engine, standin: StandInServer) -> Engine:
    """`engine` after one quick answer: a client's first call loads modules for a second or
    two, which would count toward a short deadline."""
    standin.responder = answer_only(Reply(text="Warm [1]."))
    before = standin.replies_sent
    _ = engine.reply(QUESTION).answer
    assert standin.wait_for_replies(before + 1), "the warm-up reply was never counted"
    return engine


class TestDeadline:
    """NEWSBOT_LLM_DEADLINE bounds a whole reply; NEWSBOT_LLM_TIMEOUT only each wait."""

    @pytest.mark.parametrize("how", FRONT_ENDS)
    def test_a_reply_that_trickles_is_cut_at_the_deadline(
        self, seeded_engine: Engine, standin: StandInServer, how: str
    ) -> None:
        engine = model_engine(
            seeded_engine.settings, standin, llm_translate=False, llm_timeout=5, llm_deadline=1.5
        )
        warmed_up(engine, standin)
        sent = standin.replies_sent
        # A piece every 0.25 s, each well within the timeout: 10 s in all (a whole reply
        # comes in 40 slices as far apart).
        words = [f"word{n} " for n in range(39)]
        standin.responder = answer_only(
            Reply(text="".join(words) + "[1].", chunks=[*words, "[1]."], interval=0.25)
        )
        streamed, answer = answer_by(engine, how)
        assert standin.replies_sent == sent, "the answer did not wait for the whole reply"
        assert answer.mode == "extractive" and answer.citations
        assert answer.answer == seeded_engine.reply(QUESTION).answer.answer
        assert answer.notices == [
            "The language model took longer than 1.5 s; this is the extractive answer instead."
        ]
        if streamed is not None:
            assert streamed.startswith("word0") and answer.answer != streamed
        # The connection was closed: the stand-in's next piece found nobody to take it.
        assert standin.disconnected.wait(10)
        assert standin.replies_sent == sent

    @pytest.mark.parametrize("how", HOW)
    def test_the_deadline_also_bounds_the_wait_for_a_reply(
        self, seeded_engine: Engine, standin: StandInServer, how: str
    ) -> None:
        engine = model_engine(
            seeded_engine.settings, standin, llm_translate=False, llm_timeout=8, llm_deadline=1
        )
        warmed_up(engine, standin)
        never = threading.Event()  # released when the stand-in closes
        standin.responder = answer_only(Reply(text="Too late [1].", hold=never))
        streamed, answer = answer_by(engine, how)
        assert streamed in (None, "")
        assert answer.mode == "extractive" and answer.notices == [
            "The language model took longer than 1 s; this is the extractive answer instead."
        ]


class TestLength:
    """NEWSBOT_LLM_MAX_ANSWER_CHARS holds, whatever the server sends."""

    SENTENCE = "The data stays in the United States [1]. "

    @pytest.mark.parametrize("how", HOW)
    def test_an_endless_answer_is_stopped_and_cut_at_a_sentence(
        self, seeded_engine: Engine, standin: StandInServer, how: str
    ) -> None:
        count = 1_100_000 // len(self.SENTENCE) + 1  # 1.1 MB; the server ignores max_tokens
        # A stream pauses after 4,000 characters, until the answer is out.
        rest_may_come = threading.Event()
        standin.responder = answer_only(
            Reply(
                text=self.SENTENCE * count,
                chunks=[self.SENTENCE] * count,
                hold=rest_may_come,
                hold_after=100,
            )
        )
        engine = model_engine(
            seeded_engine.settings, standin, llm_translate=False, llm_max_answer_chars=1000
        )
        streamed, answer = answer_by(engine, how)
        assert answer.mode == "generated" and len(answer.citations) == 1
        # The last sentence that ends within 1000 characters.
        assert answer.answer == (self.SENTENCE * 24).strip()
        assert streamed in (None, answer.answer), "what was shown is never taken back"
        assert answer.notices == [
            "The language model's answer was longer than 1,000 characters; it was cut short."
        ]
        body = answer_request(standin).body
        limit = body["max_tokens"] if isinstance(standin, OpenAIStandIn) else None
        if isinstance(standin, OllamaStandIn):
            limit = body["options"]["num_predict"]
        assert limit == 1000
        if streamed is not None:
            assert standin.replies_sent == 0, "the answer did not wait for the rest"
            rest_may_come.set()
            # The stream had been closed: the rest found nobody to take it.
            assert standin.disconnected.wait(10)
            assert standin.replies_sent == 0

    @pytest.mark.parametrize("how", HOW)
    def test_a_reply_that_never_gets_to_the_answer_is_stopped(
        self, seeded_engine: Engine, standin: StandInServer, how: str
    ) -> None:
        thinking = "<think>" + "Hmm, let me think again. " * 2000  # 50,000 characters
        standin.responder = answer_only(Reply(text=thinking + "</think>The data stays [1]."))
        engine = model_engine(
            seeded_engine.settings, standin, llm_translate=False, llm_max_answer_chars=1000
        )
        streamed, answer = answer_by(engine, how)
        assert streamed in (None, "")
        assert answer.mode == "extractive" and answer.notices == [
            "The language model failed (no answer in its first 8,000 characters); this is the "
            "extractive answer instead."
        ]

    def test_an_answer_within_the_limit_has_no_notice(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        text = (self.SENTENCE * 24).strip()
        standin.responder = answer_only(Reply(text=text))
        engine = model_engine(
            seeded_engine.settings, standin, llm_translate=False, llm_max_answer_chars=len(text)
        )
        for how in HOW:
            streamed, answer = answer_by(engine, how)
            assert streamed in (None, text)
            assert answer.answer == text and answer.notices == []


class TestInvalidCitations:
    @pytest.mark.parametrize("how", HOW)
    def test_a_sentence_left_uncited_says_so(
        self, seeded_engine: Engine, standin: StandInServer, how: str
    ) -> None:
        standin.responder = answer_only(
            Reply(text="The data stays in the United States [7]. Copies abroad go [3].")
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        streamed, answer = answer_by(engine, how)
        assert answer.answer == "The data stays in the United States. Copies abroad go [1]."
        assert streamed in (None, answer.answer)
        assert answer.notices == [
            "1 sentence of the answer cited a passage that doesn't exist; its citation was "
            "removed, so no source backs it."
        ]

    def test_an_invalid_citation_beside_a_valid_one_needs_no_notice(
        self, seeded_engine: Engine, standin: StandInServer
    ) -> None:
        standin.responder = answer_only(
            Reply(text="The data stays in the US [2][9]. It [12] is [1].")
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        answer = engine.reply(QUESTION).answer
        assert answer.answer == "The data stays in the US [1]. It is [2]."
        assert answer.notices == []


class TestSecrets:
    def test_key_is_sent_but_never_shown(
        self,
        seeded_engine: Engine,
        standin: StandInServer,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        standin.responder = answer_only(
            Reply(status=401, error=f"Incorrect API key provided: {API_KEY}")
        )
        engine = model_engine(seeded_engine.settings, standin, llm_translate=False)
        answers = [engine.reply(QUESTION).answer, collect(engine.reply(QUESTION))[1]]
        for answer in answers:
            assert answer.notices == [
                "The language model failed (HTTP 401); this is the extractive answer instead."
            ]
            assert API_KEY not in answer.model_dump_json()
        sent = answer_request(standin).headers
        assert API_KEY in sent.get("authorization", "")
        captured = capfd.readouterr()
        assert caplog.records, "the failure was logged"
        assert API_KEY not in caplog.text
        assert API_KEY not in captured.out + captured.err
        assert API_KEY not in repr(engine.settings) + str(engine.settings.model_dump())
        assert API_KEY not in repr(engine.model) + repr(engine.stats())


def test_french_question_gets_a_french_prompt(
    seeded_engine: Engine, openai_standin: OpenAIStandIn
) -> None:
    pytest.importorskip("llama_index.llms.openai_like")
    openai_standin.responder = answer_only(Reply(text="Le 15 septembre [1]."))
    engine = model_engine(seeded_engine.settings, openai_standin, llm_translate=False)
    answer = engine.reply("Quand Microsoft espère-t-il un résultat définitif ?").answer
    assert answer.answer == "Le 15 septembre [1]." and answer.language == "fr"
    assert "Answer in French" in answer_request(openai_standin).user()
    assert answer.citations[0].source in {FRENCH_SEED, ENGLISH_SEED, "000_df82538c9e46931c.txt"}
