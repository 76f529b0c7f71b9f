"""Follow-up rewriting and question translation, on their own and through the engine."""

from __future__ import annotations

import pytest

from rag.answering.rewrite import conversation_text, parse_standalone, parse_translations
from rag.engine import Engine
from rag.models import Conversation, Turn
from tests.conftest import ARABIC_SEED, model_engine, needs_openai
from tests.standins._server import Reply, Request, Script
from tests.standins.openai_api import OpenAIStandIn

AMAZON_EN = "Why did Amazon end up embarrassed after its TikTok decision for employee phones?"
AMAZON_AR = "لماذا تعرضت أمازون لموقف محرج بعد قرارها بشأن تيك توك على هواتف الموظفين؟"
AMAZON_FR = (
    "Pourquoi Amazon s’est-elle retrouvée embarrassée après sa décision sur TikTok "
    "pour les téléphones des employés ?"
)


class TestParsing:
    @pytest.mark.parametrize(
        "reply",
        [
            "Why did Amazon ban TikTok?",
            '"Why did Amazon ban TikTok?"',
            "Standalone question: Why did Amazon ban TikTok?\n",
            "\n  « Why did Amazon ban TikTok? »  \nExplanation: the user means Amazon.",
        ],
    )
    def test_standalone_question(self, reply: str) -> None:
        assert parse_standalone(reply, "And Amazon?", 2000) == "Why did Amazon ban TikTok?"

    @pytest.mark.parametrize("reply", ["", "  \n ", '""', "x" * 3000])
    def test_unusable_rewrite_keeps_the_question(self, reply: str) -> None:
        assert parse_standalone(reply, "And Amazon?", 2000) == "And Amazon?"

    def test_translations(self) -> None:
        reply = f"Here you go:\nar: {AMAZON_AR}\n- **fr**: « {AMAZON_FR} »\nde: Warum?\n"
        assert parse_translations(reply, AMAZON_EN, ["ar", "fr"]) == {
            "ar": AMAZON_AR,
            "fr": AMAZON_FR,
        }

    def test_translations_in_the_wrong_language_are_dropped(self) -> None:
        reply = f"ar: {AMAZON_EN}\nfr: {AMAZON_AR}\nfr: {AMAZON_FR}"
        assert parse_translations(reply, AMAZON_EN, ["ar", "fr"]) == {"fr": AMAZON_FR}

    def test_conversation_text_shortens_long_answers(self) -> None:
        text = conversation_text([Turn("Who?", "word " * 500), Turn("And then?", "Then [1].")])
        first, second = text.split("\n\n")
        assert first.startswith("User: Who?\nAssistant: word") and first.endswith(" …")
        assert len(first) < 700
        assert second == "User: And then?\nAssistant: Then [1]."


def translate_from_table(request: Request) -> Reply:
    wanted = request.user().split("\n")[0]
    assert wanted == "Languages: ar (Arabic), fr (French)"
    return Reply(text=f"ar: {AMAZON_AR}\nfr: {AMAZON_FR}")


@needs_openai
class TestThroughTheEngine:
    def test_an_english_question_finds_the_arabic_article(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        reply = seeded_engine.reply(AMAZON_EN)
        offline_answer, offline = reply.answer, reply.passages
        assert offline_answer.abstained and ARABIC_SEED not in {p.source for p in offline}
        openai_standin.responder = Script(
            translate=translate_from_table,
            answer=Reply(text="Amazon said the email was sent by mistake [1]."),
        )
        engine = model_engine(seeded_engine.settings, openai_standin)
        reply = engine.reply(AMAZON_EN)
        answer, passages = reply.answer, reply.passages
        assert openai_standin.kinds() == ["translate", "answer"]
        assert ARABIC_SEED in {p.source for p in passages}
        assert not answer.abstained and answer.mode == "generated"
        assert answer.language == "en" and answer.question == AMAZON_EN
        assert answer.citations[0].passage_id in {p.passage_id for p in passages}

    def test_translation_can_be_turned_off(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        openai_standin.responder = Script(translate=translate_from_table)
        answer = (
            model_engine(seeded_engine.settings, openai_standin, llm_translate=False)
            .reply(AMAZON_EN)
            .answer
        )
        assert answer.abstained and openai_standin.kinds() == []

    def test_follow_up_is_rewritten_before_retrieval(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        openai_standin.responder = Script(
            rewrite=Reply(text=AMAZON_EN),
            translate=translate_from_table,
            answer=Reply(text="Amazon sent the email by mistake [1]."),
        )
        engine = model_engine(seeded_engine.settings, openai_standin)
        conversation = Conversation()
        first = engine.reply("Why did Wells Fargo ban TikTok?", conversation=conversation).answer
        reply = engine.reply("And Amazon?", conversation=conversation)
        answer, passages = reply.answer, reply.passages
        rewrite = next(r for r in openai_standin.requests if r.prompt_kind() == "rewrite")
        assert "User: Why did Wells Fargo ban TikTok?" in rewrite.user()
        assert f"Assistant: {' '.join(first.answer.split())[:40]}" in rewrite.user()
        assert "Last question: And Amazon?" in rewrite.user()
        assert answer.question == "And Amazon?" and answer.mode == "generated"
        assert f"Understood as: {AMAZON_EN}" in answer.notices
        assert answer.read_as == AMAZON_EN  # the model's reading, not the offline one
        assert not any("follow-up of" in notice for notice in answer.notices)
        assert ARABIC_SEED in {p.source for p in passages}
        answer_request = [r for r in openai_standin.requests if r.prompt_kind() == "answer"][-1]
        assert f"Question: {AMAZON_EN}" in answer_request.user()
        assert [t.question for t in conversation.turns] == [
            "Why did Wells Fargo ban TikTok?",
            AMAZON_EN,
        ]

    def test_a_failed_rewrite_reads_the_follow_up_as_offline(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply("لماذا حظرت أمازون تيك توك؟", conversation=conversation).answer
        openai_standin.responder = Script(rewrite=Reply(status=503))
        engine = model_engine(seeded_engine.settings, openai_standin)
        answer = engine.reply("وماذا عن Wells Fargo؟", conversation=conversation).answer
        assert openai_standin.kinds() == ["rewrite"] and answer.mode == "extractive"
        assert answer.read_as == "لماذا حظرت أمازون تيك توك؟ Wells Fargo"
        assert "Wells Fargo" in answer.answer and answer.citations[0].source == ARABIC_SEED
        assert answer.notices[-1] == "فُهم السؤال على أنه متابعة لسؤال «لماذا حظرت أمازون تيك توك؟»."

    def test_a_question_that_stands_alone_is_not_rewritten_without_history(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        engine = model_engine(seeded_engine.settings, openai_standin, llm_translate=False)
        _ = engine.reply("Why did Wells Fargo ban TikTok?", conversation=Conversation()).answer
        assert "rewrite" not in openai_standin.kinds()

    def test_failed_rewrite_gives_one_notice_and_no_more_calls(
        self, seeded_engine: Engine, openai_standin: OpenAIStandIn
    ) -> None:
        conversation = Conversation()
        _ = seeded_engine.reply("Why did Wells Fargo ban TikTok?", conversation=conversation).answer
        openai_standin.responder = Script(rewrite=Reply(status=503))
        engine = model_engine(seeded_engine.settings, openai_standin)
        answer = engine.reply("Why did Amazon ban TikTok?", conversation=conversation).answer
        assert openai_standin.kinds() == ["rewrite"]
        assert answer.notices == [
            "The language model failed (HTTP 503); this is the extractive answer instead."
        ]
        assert answer.mode == "extractive"


def test_offline_a_follow_up_is_read_with_the_question_before(seeded_engine: Engine) -> None:
    conversation = Conversation()
    _ = seeded_engine.reply("Why did Wells Fargo ban TikTok?", conversation=conversation).answer
    follow_up = seeded_engine.reply("And Amazon?", conversation=conversation).answer
    # Only the Arabic article names Amazon, and the hashing embedding matches words only.
    assert follow_up.abstained
    assert follow_up.read_as == "Why did Wells Fargo ban TikTok? Amazon"
    assert follow_up.notices == [
        "Read as a follow-up of “Why did Wells Fargo ban TikTok?”; if it is a new question, "
        "ask it in full."
    ]
