"""The one facade every front end calls: ask, ingest, list what is indexed."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.answer import ExtractiveAnswerer, abstention
from rag.conversation import Conversation
from rag.errors import BadInputError
from rag.index import NewsIndex, ProgressCallback
from rag.language import detect_language
from rag.models import Answer, ArticleInfo, IngestReport, RetrievedPassage
from rag.retrieve import HybridRetriever
from rag.settings import Settings, load_settings


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Strip control characters and surrounding space; truncate what is too long.

    Raises BadInputError for a question with nothing left to ask.
    """
    notices: list[str] = []
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadInputError(
            'the question is empty; ask something, e.g. newsbot ask "Who wants to buy TikTok?"'
        )
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
        notices.append(
            f"The question was {len(question):,} characters long; only its first "
            f"{len(text):,} were used."
        )
    return text, notices


class Engine:
    """Answers questions about the indexed articles, with citations.

    Safe to call from several threads at once; ingests are serialised per data dir.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        from rag.embedding import embedding_id, make_embedding

        self.settings = settings or load_settings()
        embedding = make_embedding(self.settings)
        self.index = NewsIndex(self.settings, embedding, embedding_id(embedding))
        self.retriever = HybridRetriever(
            self.index,
            candidates=self.settings.candidates,
            lexical_weight=self.settings.lexical_weight,
            subword_weight=self.settings.subword_weight,
            vector_weight=self.settings.vector_weight,
        )
        self.answerer = ExtractiveAnswerer(min_evidence=self.settings.min_evidence)
        self._ingest_lock = threading.Lock()

    @property
    def mode(self) -> str:
        return "extractive"

    def has_index(self) -> bool:
        return self.index.exists()

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Index the articles under `paths` (default: the corpus dir)."""
        with self._ingest_lock:
            return self.index.ingest(
                list(paths) if paths else [self.settings.corpus_dir],
                rebuild=rebuild,
                progress=progress,
            )

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        conversation: Conversation | None = None,
    ) -> Answer:
        """Answer one question from the indexed articles.

        `conversation` holds the chat's earlier turns; this turn is added to it.
        """
        return self.ask_traced(question, top_k=top_k, conversation=conversation)[0]

    def ask_traced(
        self,
        question: str,
        *,
        top_k: int | None = None,
        conversation: Conversation | None = None,
    ) -> tuple[Answer, list[RetrievedPassage]]:
        """Like `ask`, and also the ranked passages the answer was drawn from."""
        text, notices = clean_question(question, self.settings.max_question_chars)
        language = detect_language(text)
        answer_language = language if language != "und" else "en"
        passages, query = self.retriever.retrieve(
            text, answer_language, top_k or self.settings.top_k
        )
        if passages:
            answer = self.answerer.answer(text, answer_language, query, passages, notices)
        else:
            answer = abstention(text, answer_language, notices)
        if conversation is not None:
            conversation.add(answer)
        return answer, passages

    def search(self, question: str, *, top_k: int | None = None) -> list[RetrievedPassage]:
        """The best passages for a question, ranked, without composing an answer."""
        text, _ = clean_question(question, self.settings.max_question_chars)
        language = detect_language(text)
        passages, _ = self.retriever.retrieve(
            text, language if language != "und" else "en", top_k or self.settings.top_k
        )
        return passages

    def articles(self) -> list[ArticleInfo]:
        return self.index.articles()

    def stats(self) -> dict[str, object]:
        articles = self.articles()
        return {
            "articles": len(articles),
            "passages": sum(a.passages for a in articles),
            "languages": sorted({a.language for a in articles}),
            "mode": self.mode,
        }
