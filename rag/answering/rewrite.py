"""What the language model does to a question before retrieval.

A follow-up ("and Amazon?") is rewritten into a standalone question from the chat's
earlier turns, and the question is translated into the other languages of the index,
so that an English question also searches the Arabic articles in Arabic. Both only
run with a language model; offline, a question is searched in its own language, and a
short follow-up is read with the question before it (rag/answering/follow_up.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prompts import fill_prompt, load_prompt
from rag.backends.llm import ChatModel
from rag.models import LANGUAGE_NAMES, Turn
from rag.text.language import detect_language

MAX_TURN_CHARS = 600
_LABEL = re.compile(
    r"^(?:standalone question|rewritten question|last question|question autonome|"
    r"question|السؤال المستقل|السؤال)\s*[:：]\s*",
    re.IGNORECASE,
)
_TRANSLATION_LINE = re.compile(r"^[\s*•-]*\**\s*([a-z]{2})\s*\**\s*[:：]\s*(.+?)\s*$")
_QUOTES = "\"'“”«»‘’`"


def _unquote(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def conversation_text(turns: Sequence[Turn]) -> str:
    """The chat so far as the rewrite prompt shows it, long answers shortened."""
    lines = []
    for turn in turns:
        answer = " ".join(turn.answer.split())
        if len(answer) > MAX_TURN_CHARS:
            answer = answer[:MAX_TURN_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"User: {turn.question}\nAssistant: {answer}")
    return "\n\n".join(lines)


def parse_standalone(reply: str, question: str, max_chars: int) -> str:
    """The rewritten question from the model's reply; the question itself if unusable."""
    for line in reply.splitlines():
        candidate = _unquote(_LABEL.sub("", _unquote(line)))
        if candidate:
            return candidate if len(candidate) <= max_chars else question
    return question


def parse_translations(reply: str, question: str, targets: Sequence[str]) -> dict[str, str]:
    """`code: translation` lines for the wanted languages, each in the language it claims."""
    found: dict[str, str] = {}
    for line in reply.splitlines():
        match = _TRANSLATION_LINE.match(line)
        if not match:
            continue
        code, text = match.group(1), _unquote(match.group(2))
        if code not in targets or code in found or not text or text == question:
            continue
        if len(text) > 4 * len(question) + 100:
            continue
        if detect_language(text) in (code, "und"):
            found[code] = text
    return found


class QueryRewriter:
    """Follow-up rewriting and question translation; failures raise ModelCallError."""

    def __init__(self, model: ChatModel, *, max_chars: int) -> None:
        self.model = model
        self.max_chars = max_chars

    def standalone(self, question: str, turns: Sequence[Turn]) -> str:
        if not turns:
            return question
        reply = self.model.complete(
            load_prompt("rewrite.system"),
            fill_prompt("rewrite.user", conversation=conversation_text(turns), question=question),
        )
        return parse_standalone(reply, question, self.max_chars)

    def translate(self, question: str, targets: Sequence[str]) -> dict[str, str]:
        """The question in each of `targets` (language codes) that the model got right."""
        if not targets:
            return {}
        languages = ", ".join(f"{code} ({LANGUAGE_NAMES.get(code, code)})" for code in targets)
        reply = self.model.complete(
            load_prompt("translate.system"),
            fill_prompt("translate.user", languages=languages, question=question),
        )
        return parse_translations(reply, question, targets)
