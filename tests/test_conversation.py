from __future__ import annotations

from rag.conversation import Conversation
from rag.engine import Engine


def test_keeps_the_last_turns(seeded_engine: Engine) -> None:
    conversation = Conversation(max_turns=2)
    for question in ["Who wants to buy TikTok?", "Why did Amazon ban TikTok?", "And Wells Fargo?"]:
        seeded_engine.ask(question, conversation=conversation)
    assert [t.question for t in conversation.turns] == [
        "Why did Amazon ban TikTok?",
        "And Wells Fargo?",
    ]
    conversation.reset()
    assert len(conversation) == 0


def test_traced_answer_returns_the_ranking(seeded_engine: Engine) -> None:
    answer, passages = seeded_engine.ask_traced("Why did Wells Fargo ban TikTok?", top_k=4)
    assert len(passages) == 4
    assert passages[0].score >= passages[-1].score
    assert {c.passage_id for c in answer.citations} <= {p.passage_id for p in passages}
