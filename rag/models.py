"""The data that crosses the engine's boundary: answers, citations, articles."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
        default_factory=list, description="Cited spans, as offsets into `text`."
    )

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
