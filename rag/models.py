"""The data that crosses the engine's boundary: answers, citations, articles."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

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
        description="Article file, by its path relative to the folder ingested; its id."
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
        description="The similarity with the model's preference for the question's language "
        "taken out.",
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
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.articles} articles, {self.passages} passages "
            f"(added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, skipped {len(self.skipped)}) in {self.seconds:.1f} s"
        )
