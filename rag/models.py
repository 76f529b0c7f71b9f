"""The data that crosses the engine's boundary: answers, citations, articles, and the
turns of a conversation; and what the pipeline asks of an embedding backend."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, Field, model_validator

# The languages newsbot analyses, by their ISO 639-1 codes ("und" is undetermined).
LANGUAGE_NAMES = {"ar": "Arabic", "fr": "French", "en": "English"}
OPENING_WORDS = 6
OPENING_CHARS = 40
# Quotation marks and dashes a cited sentence may open with: labels put their own quotes
# around the opening.
_OPENING_STRIP = " \t\n\"'«»“”„‘’‚‹›-–—•*"
_CUT_STRIP = " ,;:،؛.-–—(«“„‘‹"


def opening_words(text: str, words: int = OPENING_WORDS, chars: int = OPENING_CHARS) -> str:
    """The first `words` words of `text`, no more than `chars` characters, on one line,
    ending in "…" when cut: what a label quotes of a sentence. A first word longer than
    `chars` (a link) is cut."""
    tokens = text.strip(_OPENING_STRIP).split()
    taken: list[str] = []
    for token in tokens[:words]:
        if taken and len(" ".join([*taken, token])) > chars:
            break
        taken.append(token)
    opening = " ".join(taken)
    if len(opening) > chars:
        return opening[:chars] + "…"
    if len(taken) < len(tokens):
        opening = opening.rstrip(_CUT_STRIP) + "…"
    return opening


class Citation(BaseModel):
    """A numbered passage that the answer rests on."""

    n: int = Field(description="The number used in the answer's [n] markers.")
    source: str = Field(
        description="The article: its path in the folder ingested (its file name when "
        "ingested on its own), with the folders above that tell it from another indexed "
        "article of that path (`x/story.txt`, `y/story.txt`); its id."
    )
    title: str
    language: str
    text: str = Field(description="The whole passage.")
    passage_id: str
    start: int = Field(description="Offset of the passage in the article text.")
    end: int
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Cited spans, as offsets into `text`, in the order the answer cites them.",
    )
    passage: int | None = Field(
        default=None, description="The passage's place in its article: the k-th, from 1."
    )
    passages: int | None = Field(default=None, description="How many passages the article has.")
    cited_opening: str = Field(
        default="",
        description="The first words of the span the answer cites first (of the passage when "
        "none is highlighted), for labels; filled in when not given.",
    )

    @model_validator(mode="after")
    def _fill_cited_opening(self) -> Citation:
        if not self.cited_opening:
            start, end = self.highlights[0] if self.highlights else (0, len(self.text))
            self.cited_opening = opening_words(self.text[start:end] or self.text)
        return self

    @classmethod
    def of(cls, n: int, passage: RetrievedPassage, highlights: list[tuple[int, int]]) -> Citation:
        """Citation number `n`, for a retrieved passage."""
        return cls(
            n=n,
            source=passage.source,
            title=passage.title,
            language=passage.language,
            text=passage.text,
            passage_id=passage.passage_id,
            start=passage.start,
            end=passage.end,
            highlights=highlights,
            passage=passage.passage,
            passages=passage.passages,
        )


class Answer(BaseModel):
    """An answer whose every [n] refers to a citation in `citations`."""

    question: str
    answer: str
    abstained: bool
    language: str = Field(description="Detected language of the question.")
    citations: list[Citation] = Field(default_factory=list)
    mode: str = Field(default="extractive", description="How the answer was produced.")
    notices: list[str] = Field(default_factory=list, description="Things the user should know.")
    read_as: str | None = Field(
        default=None,
        description="The question as it was searched, when not as asked: a follow-up read "
        "with the question before it, or the language model's standalone rewrite.",
    )
    answerability: float | None = Field(
        default=None,
        description="The calibrated likelihood, 0 to 1, that the articles answer the question; "
        "below the threshold (NEWSBOT_MIN_EVIDENCE) the answer is a refusal. None when the "
        "question was not weighed (small talk, no words to search).",
    )


class AnswerDelta(BaseModel):
    """A piece of a generated answer, as the model streams it.

    The pieces already carry the answer's final citation numbers; a stream of them
    ends with the `Answer`, whose text they spell out unless the answer fell back to
    the extractive one (then `Answer.answer` replaces what was streamed).
    """

    text: str


AnswerEvent = AnswerDelta | Answer


class RetrievedPassage(BaseModel):
    """One passage from the fused ranking, with what the answerer needs."""

    passage_id: str
    source: str
    title: str
    language: str
    text: str
    start: int
    end: int
    passage: int | None = Field(
        default=None, description="The passage's place in its article: the k-th, from 1."
    )
    passages: int | None = Field(default=None, description="How many passages the article has.")
    score: float
    evidence: float = Field(
        default=0.0,
        description="How well the passage covers the question, 0 to 1: the larger of the "
        "share of its weighted terms found in the passage and the calibrated similarity.",
    )
    lexical_evidence: float = Field(
        default=0.0, description="Share of the question's weighted terms found in the passage."
    )
    similarity: float | None = Field(
        default=None, description="Cosine similarity to the question, if among the nearest."
    )
    adjusted_similarity: float | None = Field(
        default=None,
        description="The similarity above its language's background (the model's preference "
        "for the question's language taken out), in units of the calibration's scale.",
    )
    sentence_similarity: float | None = Field(
        default=None, description="Cosine similarity of its nearest sentence to the question."
    )
    adjusted_sentence_similarity: float | None = Field(
        default=None, description="That sentence's similarity above its language's background."
    )


class ArticleInfo(BaseModel):
    """An indexed article."""

    source: str
    title: str
    language: str
    passages: int
    path: str


class IngestReport(BaseModel):
    """What an ingest did."""

    articles: int = 0
    passages: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[str] = Field(default_factory=list, description="One warning per skipped file.")
    notices: list[str] = Field(
        default_factory=list,
        description="What the user should know about the ingest as a whole: a damaged store "
        "set aside, remembered paths that are gone.",
    )
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.articles} articles, {self.passages} passages "
            f"(added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, skipped {len(self.skipped)}) in {self.seconds:.1f} s"
        )


DEFAULT_MAX_TURNS = 6


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str
    # For a follow-up read without a model: the earlier question it was read with, and
    # what it asked about instead ("Amazon"), so that the next follow-up reads the same way.
    read_with: str | None = None
    focus: str | None = None

    @property
    def standalone(self) -> str:
        """The question this turn's follow-ups are read with."""
        return self.read_with or self.question


class Conversation:
    """The last `max_turns` turns of one chat (a REPL session, a Telegram chat).

    With a language model, follow-up questions are rewritten from these turns before
    retrieval; without one, a short follow-up is read with the question before it
    (`rag.answering.follow_up.read_question`).
    """

    def __init__(self, max_turns: int = DEFAULT_MAX_TURNS) -> None:
        self._turns: deque[Turn] = deque(maxlen=max_turns)

    @property
    def turns(self) -> list[Turn]:
        return list(self._turns)

    @property
    def last(self) -> Turn | None:
        return self._turns[-1] if self._turns else None

    def __len__(self) -> int:
        return len(self._turns)

    def add(
        self,
        answer: Answer,
        *,
        question: str | None = None,
        read_with: str | None = None,
        focus: str | None = None,
    ) -> None:
        """Remember a turn: its question (`question` when another text than the answer's, as
        asked, stands for it), the answer's text, and how an offline follow-up was read."""
        self._turns.append(
            Turn(
                question=question or answer.question,
                answer=answer.answer,
                read_with=read_with,
                focus=focus,
            )
        )

    def reset(self) -> None:
        self._turns.clear()


@dataclass(frozen=True)
class SmallTalk:
    """What a small-talk message is: `kind` ("greeting", "thanks", "command" for a stray
    command word such as "clear" or "help", or "emoji" for a message without letters or
    digits) names its reply, `prompts/telegram/<kind>_reply`; `language`
    is the language of its phrase, None for emoji."""

    kind: str
    language: str | None


# What an ingest reports as it goes: the stage ("read", "embed", "delete"), done, total.
ProgressCallback = Callable[[str, int, int], None]


class Embedding(Protocol):
    """What the pipeline calls on an embedding backend: the part of llama-index's
    `BaseEmbedding` it uses, which the bundled backends provide without importing
    llama-index (rag/backends/embedding.py)."""

    model_name: str

    def class_name(self) -> str: ...

    def get_query_embedding(self, query: str) -> list[float]: ...

    def get_text_embedding(self, text: str) -> list[float]: ...

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]: ...
